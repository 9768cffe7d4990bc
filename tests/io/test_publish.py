"""The one atomic writer and the one folder publisher: nothing lost, nothing half-written, nothing left behind."""

import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from cogvision.io import atomic_write, check_out_dir, publish_folder, run_metadata
from cogvision.io.publish import clean_stale


def _partials(folder):
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".tmp" in p.name)


@pytest.fixture
def previous(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    return out


def test_publishes_a_complete_folder_with_metadata_and_ordinary_permissions(tmp_path):
    out = tmp_path / "a" / "b"
    with publish_folder(out, metadata=run_metadata(seed=3, device="cpu")) as folder:
        (folder / "x.txt").write_text("1")
    assert (out / "x.txt").read_text() == "1"
    record = __import__("json").loads((out / "run.json").read_text())
    assert record["seed"] == 3 and record["device"] == "cpu" and record["cogvision_version"]
    assert "git_commit" in record and "command" in record
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert _partials(out.parent) == []


@pytest.mark.parametrize("error", [ValueError("bad config"), KeyboardInterrupt()])
def test_failure_or_interrupt_keeps_the_previous_folder_and_leaves_nothing(previous, error):
    with pytest.raises(type(error)):
        with publish_folder(previous, overwrite=True) as folder:
            (folder / "new.txt").write_text("half")
            raise error
    assert sorted(p.name for p in previous.iterdir()) == ["keep.txt"]
    assert (previous / "keep.txt").read_text() == "old results"
    assert _partials(previous.parent) == []


def test_overwrite_replaces_only_when_complete(previous):
    with publish_folder(previous, overwrite=True) as folder:
        (folder / "new.txt").write_text("new")
        assert (previous / "keep.txt").read_text() == "old results"  # still there while the new one is written
    assert sorted(p.name for p in previous.iterdir()) == ["new.txt"]
    assert _partials(previous.parent) == []


def test_refusals_name_the_flag(previous, tmp_path):
    with pytest.raises(FileExistsError, match="--out .* exists and is not empty; pass --overwrite"):
        check_out_dir(previous)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_out_dir(tmp_path / "file", overwrite=True)
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "file" / "sub")
    (tmp_path / "empty").mkdir()
    assert check_out_dir(tmp_path / "empty") == tmp_path / "empty"


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "t.csv"
    atomic_write(target, "old")

    def broken(path):
        path.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path, "x")


SCRIPT = textwrap.dedent("""
    import sys, time
    from cogvision.io import publish_folder
    with publish_folder(sys.argv[1], overwrite=True) as folder:
        (folder / "new.txt").write_text("half")
        print("ready", flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_signal_mid_write_keeps_the_previous_folder(previous, sig, caplog):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(previous)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert sorted(p.name for p in previous.iterdir()) == ["keep.txt"]
    left = _partials(previous.parent)
    if sig == signal.SIGKILL:
        assert len(left) == 1  # nothing can clean up after SIGKILL: the next run does
        with caplog.at_level(logging.WARNING, logger="cogvision"):
            removed = clean_stale(previous)
        assert len(removed) == 1 and "interrupted run" in caplog.text
    assert _partials(previous.parent) == []


def test_stale_folder_of_a_live_process_is_kept(previous):
    live = previous.parent / f".{previous.name}.partial-{os.getppid()}-abcd"
    live.mkdir()
    assert clean_stale(previous) == [] and live.is_dir()
