"""Writing results safely: one atomic single-file writer, one folder publisher, run metadata, file formats.

Every command and library writer that produces files goes through these functions, so that a failure or an
interruption at any point leaves either the previous output untouched or a complete new one, and never a
hidden temporary folder.
"""

from cogvision.io.atomic import atomic_write
from cogvision.io.checkpoint import read_checkpoint, read_safetensors
from cogvision.io.formats import read_dataset, save_figure, write_dataset, write_table
from cogvision.io.metadata import run_metadata
from cogvision.io.publish import check_out_dir, publish_folder

__all__ = ["atomic_write", "check_out_dir", "publish_folder", "read_checkpoint", "read_dataset", "read_safetensors",
           "run_metadata", "save_figure", "write_dataset", "write_table"]
