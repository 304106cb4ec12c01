"""weather_data.chunks: chunk shapes for map and time-series reads, on hand-computed sizes."""

from __future__ import annotations

from weather_data.chunks import MAX_SPATIAL_TILE, TARGET_CHUNK_BYTES, choose_chunks, n_chunks


def test_a_small_grid_is_one_tile_and_time_fills_the_target() -> None:
    chunks = choose_chunks({"time": 744, "latitude": 33, "longitude": 49})
    assert chunks == {"latitude": 33, "longitude": 49, "time": 744}  # 744 steps are 4.8 MB
    longer = choose_chunks({"time": 10_000, "latitude": 33, "longitude": 49})
    assert longer["time"] == TARGET_CHUNK_BYTES // (33 * 49 * 4) == 1296


def test_a_large_grid_is_tiled() -> None:
    chunks = choose_chunks({"time": 1000, "latitude": 721, "longitude": 1440})
    assert chunks["latitude"] == chunks["longitude"] == MAX_SPATIAL_TILE
    assert chunks["time"] == TARGET_CHUNK_BYTES // (512 * 512 * 4) == 8


def test_levels_stations_and_other_dims() -> None:
    levels = choose_chunks({"time": 10, "level": 100, "latitude": 10, "longitude": 10})
    assert levels["level"] == 64
    stations = choose_chunks({"time": 10, "station": 5000})
    assert stations == {"station": 1024, "time": 10}
    other = choose_chunks({"time": 10, "member": 7, "latitude": 2, "longitude": 2})
    assert other["member"] == 7  # kept whole
    assert "time" not in choose_chunks({"latitude": 4, "longitude": 4})


def test_the_target_may_be_given_and_a_step_larger_than_it_is_one_chunk() -> None:
    sizes = {"time": 100, "latitude": 10, "longitude": 10}
    assert choose_chunks(sizes, target_bytes=10 * 10 * 4 * 3)["time"] == 3
    assert choose_chunks(sizes, target_bytes=1)["time"] == 1


def test_n_chunks_covers_the_size() -> None:
    assert n_chunks(10, 3) == 4
    assert n_chunks(9, 3) == 3
    assert n_chunks(0, 5) == 0
    assert n_chunks(5, 0) == 0
