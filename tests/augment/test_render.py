"""render_many: job order, fixed encoders, byte-identical across worker counts, streaming, clear errors."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from augment import RenderError, RenderJob, decode_image, render_many, render_one
from tests.augment.helpers import image, instance, jpeg, png, policy

POLICY = policy("- HorizontalFlip: {p: 0.5}\n- Rotate: {limit: 25, p: 0.7}\n- RandomBrightnessContrast: {p: 0.5}",
                "bbox_params: {min_visibility: 0.3}")


def jobs(n: int, tmp_path=None) -> list[RenderJob]:
    out = []
    for i in range(n):
        img = image(60 + i % 3, 90, seed=i)
        data = jpeg(img) if i % 2 else png(img)
        source = data
        if tmp_path is not None and i % 3 == 0:
            source = tmp_path / f"{i}.bin"
            source.write_bytes(data)
        out.append(RenderJob(f"s{i}", source, instance(f"i{i}", 10, 10, 50, 40, h=60 + i % 3, w=90), i % 2))
    return out


def test_workers_1_and_2_give_identical_bytes_in_job_order(tmp_path):
    work = jobs(14, tmp_path)
    one = list(render_many(work, POLICY, 77, workers=1, progress=False))
    two = list(render_many(iter(work), POLICY, 77, workers=2, progress=False, chunk_size=3, max_in_flight=6))
    assert [(r.sample_id, r.k) for r in one] == [(j.sample_id, j.k) for j in work]
    assert one == two  # data, targets, reports, sizes: all equal
    assert len({r.data for r in one}) == len(one)


def test_output_format_follows_input_and_is_decodable():
    for r in render_many(jobs(4), POLICY, 1, progress=False):
        is_jpeg = r.data[:3] == b"\xff\xd8\xff"
        assert (r.format, r.extension) == (("jpeg", ".jpg") if is_jpeg else ("png", ".png"))
        assert is_jpeg is (int(r.sample_id[1:]) % 2 == 1)
        with Image.open(io.BytesIO(r.data)) as img:
            assert img.size == (r.width, r.height) and img.mode == "RGB" and not img.info.get("exif")


def test_png_output_is_lossless():
    img = image(40, 50)
    result = render_one(RenderJob(1, png(img), [], 0), policy("- HorizontalFlip: {p: 1}"), 0)
    assert np.array_equal(decode_image(result.data)[0], img[:, ::-1])


def test_render_many_streams_with_a_bounded_number_of_jobs_in_flight():
    pulled = itertools.count()

    def endless():
        for i in itertools.count():
            next(pulled)
            yield RenderJob(i, png(image(20, 20, seed=i % 3)), [], 0)

    stream = render_many(endless(), POLICY, 5, workers=2, progress=False, chunk_size=2, max_in_flight=4)
    first = [next(stream) for _ in range(3)]
    assert [r.sample_id for r in first] == [0, 1, 2]
    assert next(pulled) <= 4 + 2 + 2  # in flight + one chunk being filled + the one just counted
    stream.close()


def test_single_process_streams_one_job_at_a_time():
    pulled = []

    def gen():
        for i in range(100):
            pulled.append(i)
            yield (i, png(image(10, 10)), [], 0)

    stream = render_many(gen(), POLICY, 5, progress=False)
    next(stream)
    assert pulled == [0]


def test_a_broken_image_names_the_sample():
    bad = [RenderJob("ok", png(image(10, 10)), [], 0), RenderJob("broken-7", b"not an image", [], 0)]
    with pytest.raises(RenderError, match="sample 'broken-7' copy k=0: cannot decode the image"):
        list(render_many(bad, POLICY, 1, progress=False))
    with pytest.raises(RenderError, match="broken-7"):
        list(render_many(bad, POLICY, 1, workers=2, progress=False))


@pytest.mark.parametrize(("kwargs", "message"), [({"workers": 0}, "workers"), ({"chunk_size": 0}, "chunk_size")])
def test_bad_arguments_are_refused_before_any_work(kwargs, message):
    with pytest.raises(RenderError, match=message):
        render_many([], POLICY, 1, **kwargs)


def test_progress_bar_runs(capsys):
    results = list(render_many(jobs(3), POLICY, 1, progress=True))
    assert len(results) == 3
    assert "3/3" in capsys.readouterr().err


def test_jpeg_output_uses_quality_95_and_png_level_6_settings():
    array = image(32, 48)
    out = render_one(RenderJob(1, jpeg(array), [], 0), policy("- HorizontalFlip: {p: 0}"), 0)
    reference = io.BytesIO()
    Image.fromarray(decode_image(out.data)[0]).save(reference, format="JPEG", quality=95)
    with Image.open(io.BytesIO(out.data)) as got, Image.open(reference) as ref:
        assert got.quantization == ref.quantization and got.info.get("progressive") is None
    from augment import encode_image

    assert encode_image(array, "png") == encode_image(array.copy(), "png")
    with Image.open(io.BytesIO(encode_image(array, "png"))) as img:
        assert np.array_equal(np.asarray(img), array) and "exif" not in img.info
