"""Sub-commands of the ``cogvision`` command line, one module each (registered in ``cogvision.cli``)."""
