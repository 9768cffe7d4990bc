"""Jobs: whole runs that compose a data set, a scientific module and its figures into one output folder.

This is the top layer of the package, beside :mod:`cogvision.demo` and :mod:`cogvision.commands`: a job may
import :mod:`data_loaders`, any scientific module and :mod:`cogvision.viz`; the scientific modules never import
a job. A command parses its flags and calls one job; notebooks and scripts call the same function.
"""
