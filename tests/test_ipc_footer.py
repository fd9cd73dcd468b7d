"""The schema metadata read from an Arrow IPC footer by hand equals pyarrow's reading."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc
import pytest

from nbtrack.store import ipc_footer


def write(path, metadata, batches=1):
    schema = pa.schema([("x", pa.float64()), ("k", pa.dictionary(pa.int32(), pa.string()))],
                       metadata=metadata)
    with pa.ipc.new_file(str(path), schema) as writer:
        for i in range(batches):
            writer.write(pa.record_batch([pa.array([float(i)]),
                                          pa.array(["a"]).dictionary_encode()], schema=schema))
    return path


@pytest.mark.parametrize("metadata", [None, {}, {b"nbtrack.replaces": b"a.arrow\nb.arrow"},
                                      {f"k{i}".encode(): b"v" * i for i in range(40)},
                                      {"ключ".encode(): "знач".encode()}])
def test_metadata_equals_pyarrows(tmp_path, metadata):
    path = write(tmp_path / "f.arrow", metadata, batches=3)
    want = pa.ipc.open_file(str(path)).schema.metadata or {}
    assert ipc_footer.schema_metadata(path) == dict(want)


def test_compact_files_name_what_they_replaced(tmp_path):
    import nbtrack
    from nbtrack.active import layout_for
    from nbtrack.store import arrow_io, metric_files

    run = nbtrack.start_run("e")
    for step in range(3):
        run.log({"x": 1.0}, step=step)
        run.flush()
    layout = layout_for()
    inputs = metric_files.segment_files(layout, run.id)
    out = metric_files.compact(layout, run.id, inputs=inputs, level=1)
    assert len(inputs) == 3
    assert arrow_io.replaced_by(out) == {p.name for p in inputs}
    run.end()


@pytest.mark.parametrize("cut", [1, 6, 10, 200])
def test_a_torn_file_is_refused(tmp_path, cut):
    path = write(tmp_path / "f.arrow", {b"a": b"b"})
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(ipc_footer.FooterError):
        ipc_footer.schema_metadata(path)


def test_garbage_in_the_footer_is_refused(tmp_path):
    path = write(tmp_path / "f.arrow", {b"a": b"b"})
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-10:-6], "little")
    data[-10 - length:-10] = b"\xff" * length
    path.write_bytes(bytes(data))
    with pytest.raises(ipc_footer.FooterError):
        ipc_footer.schema_metadata(path)
