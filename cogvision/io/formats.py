"""Result files in reusable formats: tables as CSV and Parquet, labelled arrays as compressed netCDF4, figures.

Each writer goes through :func:`cogvision.io.atomic_write`, so a file appears complete or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from cogvision.io.atomic import atomic_write

#: netCDF engine of :func:`write_dataset`: netCDF4/HDF5 through h5netcdf (compressed, readable by any netCDF4 tool).
NETCDF_ENGINE = "h5netcdf"
COMPRESSION = {"zlib": True, "complevel": 4}


def write_table(frame: pd.DataFrame, path: str | os.PathLike, *, parquet: bool = True,
                index: bool = False) -> list[Path]:
    """Write ``frame`` to ``path`` (CSV) and beside it as Parquet (same name, ``.parquet``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; column names must be strings for Parquet.
    path : str or os.PathLike
        The CSV file (``.csv``).
    parquet : bool, default True
        Also write ``path.with_suffix(".parquet")`` (typed columns, compressed, fast to read).
    index : bool, default False
        Write the index as columns too.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> [p.name for p in write_table(pd.DataFrame({"layer": ["a"], "r": [0.5]}), folder / "scores.csv")]
    ['scores.csv', 'scores.parquet']
    >>> pd.read_parquet(folder / "scores.parquet")["r"].tolist()
    [0.5]
    """
    path = Path(path)
    if path.suffix != ".csv":
        raise ValueError(f"{path}: expected a .csv path for a table")
    written = [atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))]
    if parquet:
        table = frame.reset_index() if index else frame
        written.append(atomic_write(path.with_suffix(".parquet"),
                                    lambda tmp: table.to_parquet(tmp, index=False, engine="pyarrow")))
    return written


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    return {name: dict(COMPRESSION) for name, var in ds.data_vars.items()
            if np.issubdtype(var.dtype, np.number) or var.dtype == bool}


def write_dataset(data: xr.Dataset | xr.DataArray, path: str | os.PathLike) -> Path:
    """Write a labelled array or dataset to ``path`` as compressed netCDF4 (HDF5, through h5netcdf).

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        What to save; attributes must be strings, numbers or lists of them (netCDF's rule).
    path : str or os.PathLike
        The ``.nc`` file.

    Returns
    -------
    pathlib.Path
        ``path``. Read it back with ``xarray.open_dataset(path)`` (or :func:`read_dataset`).

    Examples
    --------
    >>> import tempfile
    >>> da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("stimulus", "channel"), name="features")
    >>> out = write_dataset(da, Path(tempfile.mkdtemp()) / "f.nc")
    >>> read_dataset(out)["features"].dims
    ('stimulus', 'channel')
    """
    ds = data.to_dataset(name=data.name or "data") if isinstance(data, xr.DataArray) else data
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine=NETCDF_ENGINE, encoding=_encoding(ds)))


def read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a file written by :func:`write_dataset` (or any netCDF3/4 file) fully into memory.

    Raises
    ------
    ValueError
        If ``path`` is not a readable netCDF file (empty, truncated or another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such netCDF file")
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: not a readable netCDF file ({err})") from None


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120, close: bool = True) -> Path:
    """Save a matplotlib Figure to ``path`` atomically (format from the suffix) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure a :mod:`cogvision.viz` function returned.
    path : str or os.PathLike
        ``.png``, ``.pdf`` or ``.svg``.
    dpi : int, default 120
        Resolution of raster formats.
    close : bool, default True
        Close the figure afterwards (frees its memory in long runs).
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight"))
    if close:
        plt.close(fig)
    return path
