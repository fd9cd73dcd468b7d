"""The questions the layers above the store ask of a stored file (``store.files``, and the
small primitives beside it: ``atomic.read_claim``, ``objects.copy_to``,
``checksum.read_checked``), answered alike on a local folder and on a bucket."""

from __future__ import annotations

import pytest

from nbtrack import active
from nbtrack.repro import runtime
from nbtrack.store import checksum, files, objects
from nbtrack.store.atomic import claim_file, read_claim, write_bytes_atomic, write_json_atomic

pytestmark = pytest.mark.backends


@pytest.fixture
def layout():
    return active.layout_for()


def test_a_json_file_is_there_read_and_removed_with_its_folder(layout):
    path = layout.root / "things" / "one" / "thing.json"
    assert not files.is_file(path) and not files.is_folder(path.parent)
    write_json_atomic(path, {"a": [1, 2]})
    assert files.is_file(path) and files.is_folder(path.parent)
    assert files.read_json(path) == {"a": [1, 2]}
    files.remove(path)
    files.remove(path)  # gone already: fine
    assert not files.is_file(path) and not files.is_folder(path.parent)
    with pytest.raises(FileNotFoundError):
        files.read_json(path)


def test_removing_a_file_keeps_the_others_in_its_folder(layout):
    folder = layout.root / "things"
    write_json_atomic(folder / "a.json", 1)
    write_json_atomic(folder / "b.json", 2)
    files.remove(folder / "a.json")
    assert files.is_folder(folder) and files.read_json(folder / "b.json") == 2


def test_a_file_that_is_not_json_is_a_value_error(layout):
    path = write_bytes_atomic(layout.root / "bad.json", b"{not json")
    with pytest.raises(ValueError):
        files.read_json(path)


def test_a_claim_reads_back_as_what_its_winner_wrote(layout):
    path = layout.root / "claims" / "x"
    assert read_claim(path) is None
    assert claim_file(path, "winner\n")
    assert not claim_file(path, "loser")
    assert read_claim(path) == "winner"


def test_an_object_is_copied_out_to_a_local_file(layout, tmp_path):
    digest = objects.put_bytes(layout, b"content " * 1000)
    out = tmp_path / "out.bin"
    objects.copy_to(layout, digest, out)
    assert out.read_bytes() == b"content " * 1000
    with pytest.raises(FileNotFoundError):
        objects.copy_to(layout, "0" * 64, tmp_path / "absent.bin")


def test_a_checksummed_file_is_read_from_the_bytes_its_sum_was_checked_on(layout):
    path = write_bytes_atomic(layout.root / "data.bin", b"hello", checksum=True)
    assert checksum.read_checked(path) == b"hello"
    other = checksum.with_sum(layout.root / "lie.bin", checksum.crc_bytes(b"hello"))
    write_bytes_atomic(other, b"jello")  # a name whose sum says other bytes
    with pytest.raises(checksum.ChecksumMismatch):
        checksum.read_checked(other)
    with pytest.raises(FileNotFoundError):
        checksum.read_checked(checksum.with_sum(layout.root / "gone.bin", 1))


def test_an_export_restores_a_missing_input_from_the_store(layout, tmp_path):
    """What an exported notebook runs first: the input comes back from the store's copy,
    on a bucket as on a folder (``spec["store"]`` is the root's URL or path)."""
    digest = objects.put_bytes(layout, b"1,2,3")
    store = runtime._open_store(str(layout.root))
    assert store is not None and store.root == layout.root
    target = tmp_path / "work" / "data.csv"
    state = runtime._restore({"path": str(target), "sha256": digest}, store)
    assert state == "missing: restored from the store" and target.read_bytes() == b"1,2,3"
    assert runtime._restore({"path": str(target), "sha256": digest}, store) == "ok"
    assert runtime._restore({"path": str(tmp_path / "x"), "sha256": "1" * 64}, store) == (
        "missing, and the store holds no copy of it")
    assert runtime._open_store(str(tmp_path / "nowhere")) is None
