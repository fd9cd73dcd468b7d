"""The engines the S3 store stands on, checked against a real S3-compatible server on
loopback (moto's server mode): obstore's conditional create, listing, reads and deletes,
and polars' native cloud scans with ``storage_options``. If an upgrade of either
changes what the store relies on, these fail first."""

from __future__ import annotations

import io

import polars as pl
import pytest

obstore = pytest.importorskip("obstore")


def _store(moto, url):
    from obstore.store import S3Store

    bucket, _, prefix = url[len("s3://"):].partition("/")
    return S3Store(bucket, prefix=prefix, endpoint=moto.endpoint, region="us-east-1",
                   access_key_id="testing", secret_access_key="testing",
                   client_options={"allow_http": True})


def test_conditional_create_refuses_a_second_writer(moto):
    store = _store(moto, moto.bucket())
    obstore.put(store, "names/alpha", b"run-1", mode="create")
    with pytest.raises(obstore.exceptions.AlreadyExistsError):
        obstore.put(store, "names/alpha", b"run-2", mode="create")
    assert bytes(obstore.get(store, "names/alpha").bytes()) == b"run-1"  # the first one stays


def test_list_get_range_delete(moto):
    store = _store(moto, moto.bucket())
    for name in ("runs/a/events/1.json", "runs/a/events/2.json", "runs/a/metrics/1.arrow"):
        obstore.put(store, name, name.encode(), mode="create")
    level = obstore.list_with_delimiter(store, "runs/a/events")
    assert [o["path"] for o in level["objects"]] == ["runs/a/events/1.json",
                                                     "runs/a/events/2.json"]
    assert obstore.list_with_delimiter(store, "runs/a")["common_prefixes"] == [
        "runs/a/events", "runs/a/metrics"]
    everything = [o["path"] for batch in obstore.list(store, "runs") for o in batch]
    assert len(everything) == 3
    assert bytes(obstore.get_range(store, "runs/a/events/2.json", start=5, end=9)) == b"a/ev"
    obstore.delete(store, "runs/a/events/1.json")
    with pytest.raises(FileNotFoundError):
        obstore.get(store, "runs/a/events/1.json")
    obstore.delete(store, "runs/a/events/1.json")  # deleting what is gone is no error


def test_polars_scans_arrow_files_on_s3(moto):
    url = moto.bucket()
    store = _store(moto, url)
    for i in range(3):
        buf = io.BytesIO()
        pl.DataFrame({"step": [i, i + 10], "value": [0.5 * i, 1.0]}).write_ipc(
            buf, compression="zstd")
        obstore.put(store, f"runs/r/metrics/{i}.arrow", buf.getvalue(), mode="create")
    options = moto.storage_options()
    frame = pl.scan_ipc(f"{url}/runs/r/metrics/*.arrow", storage_options=options).collect()
    assert sorted(frame["step"].to_list()) == [0, 1, 2, 10, 11, 12]
    one = pl.read_ipc(f"{url}/runs/r/metrics/1.arrow", storage_options=options)
    assert one["value"].to_list() == [0.5, 1.0]


def test_polars_reads_with_credentials_from_the_environment(moto, s3_env):
    url = moto.bucket()
    buf = io.BytesIO()
    pl.DataFrame({"x": [1, 2]}).write_ipc(buf)
    obstore.put(_store(moto, url), "a.arrow", buf.getvalue())
    assert pl.scan_ipc(f"{url}/a.arrow").collect()["x"].to_list() == [1, 2]
