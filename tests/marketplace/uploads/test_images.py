"""Upload validation: images checked by content, safe archives, captions, duplicates, atomicity."""

from __future__ import annotations

import io
import pickle
import tracemalloc
import zipfile
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from marketplace.uploads import images as images_module
from marketplace.uploads.images import (
    UploadLimits,
    UploadRejected,
    UploadSource,
    ValidatedImage,
    read_archive,
    validate_images,
    validate_upload,
)
from tests.marketplace.uploads import upload_corpus as corpus

SMALL = UploadLimits(max_file_bytes=64 * 1024, max_archive_members=20)


def rejected(excinfo: pytest.ExceptionInfo[UploadRejected]) -> list[str]:
    return excinfo.value.problems


def only_problem(files: Sequence[tuple[str, UploadSource]], **kwargs: object) -> str:
    """Validate ``files`` expecting exactly one problem; return it."""
    with pytest.raises(UploadRejected) as excinfo:
        validate_images(files, **kwargs)  # type: ignore[arg-type]
    assert len(rejected(excinfo)) == 1, rejected(excinfo)
    return rejected(excinfo)[0]


def decoded(image: ValidatedImage) -> Image.Image:
    opened = Image.open(io.BytesIO(image.content))
    assert opened.format == "PNG"
    return opened


# --- accepted images ----------------------------------------------------------------------------


def test_png_jpeg_and_webp_are_accepted_and_reencoded_as_png() -> None:
    images = validate_images(
        [
            ("a.png", corpus.png(1)),
            ("b.jpg", corpus.jpeg_with_exif(2)),
            ("c.webp", corpus.webp(3)),
            ("d.webp", corpus.webp(4, lossless=False)),
        ]
    )

    assert [image.name for image in images] == ["a.png", "b.jpg", "c.webp", "d.webp"]
    assert [(image.width, image.height) for image in images] == [(16, 12), (20, 10)] + [
        (16, 12)
    ] * 2
    for image in images:
        assert decoded(image).mode == "RGB"
        assert len(image.sha256) == 64
        assert image.caption is None
        assert image.label is None


def test_png_pixels_survive_reencoding_exactly() -> None:
    (image,) = validate_images([("a.png", corpus.png(1))])

    assert decoded(image).tobytes() == corpus.noise_image(1).tobytes()


def test_file_objects_are_read_like_bytes() -> None:
    stream = io.BytesIO(corpus.png(1))
    stream.read(5)  # already sniffed by someone: validation reads from the start anyway

    (image,) = validate_images([("a.png", stream)])

    assert image.width == 16


def test_jpeg_exif_is_stripped() -> None:
    original = corpus.jpeg_with_exif(1)
    assert b"SecretCam" in original

    (image,) = validate_images([("photo.jpg", original)])

    assert b"SecretCam" not in image.content
    assert corpus.png_chunk_types(image.content) == ["IHDR", "IDAT", "IEND"]
    assert not decoded(image).getexif()


def test_png_text_and_icc_profile_are_stripped() -> None:
    original = corpus.png_with_text_and_icc(1)
    assert {"tEXt", "iTXt", "iCCP"} <= set(corpus.png_chunk_types(original))

    (image,) = validate_images([("meta.png", original)])

    assert corpus.png_chunk_types(image.content) == ["IHDR", "IDAT", "IEND"]
    assert b"Jane Contributor" not in image.content


def test_exif_orientation_is_applied_before_it_is_stripped() -> None:
    # Orientation 6 means "rotate 90° clockwise to display": a 20x10 sensor image shows as 10x20.
    (image,) = validate_images([("rotated.jpg", corpus.jpeg_with_exif(1, (20, 10), 6))])

    assert (image.width, image.height) == (10, 20)


@pytest.mark.parametrize(
    ("source", "expected_mode"),
    [
        (corpus.noise_image(1, mode="RGBA"), "RGBA"),
        (corpus.noise_image(1, mode="L"), "L"),
        (corpus.noise_image(1, mode="LA"), "RGBA"),
        (corpus.noise_image(1, mode="1"), "L"),
        (corpus.noise_image(1).convert("P"), "RGB"),
        (corpus.noise_image(1, mode="CMYK"), "RGB"),
    ],
    ids=["RGBA", "L", "LA", "1", "P", "CMYK"],
)
def test_modes_are_normalised_to_l_rgb_or_rgba(source: Image.Image, expected_mode: str) -> None:
    format_name = "JPEG" if source.mode == "CMYK" else "PNG"

    (image,) = validate_images([("x", corpus.encode(source, format_name))])

    assert decoded(image).mode == expected_mode


def test_palette_transparency_becomes_rgba() -> None:
    source = corpus.noise_image(1).convert("P")
    data = corpus.encode(source, "PNG", transparency=0)

    (image,) = validate_images([("t.png", data)])

    assert decoded(image).mode == "RGBA"


def test_16_bit_greyscale_is_scaled_not_clipped() -> None:
    source = Image.new("I;16", (4, 1))
    source.putpixel((1, 0), 30_000)
    source.putpixel((2, 0), 65_535)

    (image,) = validate_images([("deep.png", corpus.encode(source, "PNG"))])

    pixels = decoded(image).tobytes()
    assert pixels[0] == 0
    assert 100 < pixels[1] < 130  # 30000/256 ≈ 117, not clipped to 255
    assert pixels[2] == 255


# --- refused images -----------------------------------------------------------------------------


def test_text_renamed_png_is_not_an_image() -> None:
    problem = only_problem([("cat.png", b"I am a cat, honest.\n")])

    assert problem == "cat.png: not an image (the content is not PNG, JPEG or WebP)"


def test_gif_is_refused_by_content_whatever_its_name() -> None:
    problem = only_problem([("anim.png", corpus.gif(1))])

    assert problem == "anim.png: GIF images are not accepted (only PNG, JPEG or WebP)"


def test_animated_png_is_refused() -> None:
    problem = only_problem([("moving.png", corpus.animated_png(1))])

    assert problem == "moving.png: animated images are not accepted"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_png_is_corrupt(cut: float) -> None:
    data = corpus.png(1, (64, 64))

    problem = only_problem([("half.png", data[: int(len(data) * cut)])])

    assert problem == "half.png: the image is truncated or corrupt"


def test_truncated_jpeg_is_corrupt() -> None:
    data = corpus.jpeg_with_exif(1, (64, 64))

    problem = only_problem([("scan.jpg", data[: len(data) // 2])])

    assert problem == "scan.jpg: the image is truncated or corrupt"


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    # 50000x50000 = 2.5 billion pixels (10 GB as RGBA), in a file of ~70 bytes.
    problem = only_problem([("bomb.png", corpus.png_claiming_size(50_000, 50_000))])

    assert problem == "bomb.png: the image is above the 40,000,000 pixel limit"


def test_image_above_the_pixel_limit_names_its_size() -> None:
    problem = only_problem([("big.png", corpus.png_claiming_size(12_000, 12_000))])

    assert problem == "big.png: 12000x12000 pixels is above the 40,000,000 pixel limit"


def test_image_above_the_side_limit_is_refused() -> None:
    problem = only_problem([("strip.png", corpus.png_claiming_size(9000, 2))])

    assert problem == "strip.png: 9000x2 pixels is above the 8,192 side limit"


def test_pixel_limit_is_configurable() -> None:
    problem = only_problem([("a.png", corpus.png(1))], limits=UploadLimits(max_pixels=100))

    assert problem == "a.png: 16x12 pixels is above the 100 pixel limit"


def test_oversized_file_is_refused_without_decoding() -> None:
    data = corpus.png(1, (128, 128))  # noise does not compress: ~49 KiB

    problem = only_problem([("huge.png", data)], limits=UploadLimits(max_file_bytes=10 * 1024))

    assert problem.startswith("huge.png: ")
    assert problem.endswith("KiB is above the 10 KiB file limit")


def test_oversized_stream_is_read_only_to_the_limit() -> None:
    stream = io.BytesIO(corpus.png(1, (128, 128)))

    problem = only_problem([("huge.png", stream)], limits=UploadLimits(max_file_bytes=10 * 1024))

    assert problem == "huge.png: the file is above the 10 KiB file limit"
    assert stream.tell() == 10 * 1024 + 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x.png", "'..' component"),
        ("/etc/x.png", "absolute path"),
        ("C:x.png", "absolute path"),
        ("..\\x.png", "backslash"),
        ("x\x00.png", "control characters"),
    ],
)
def test_unsafe_file_names_are_refused(name: str, reason: str) -> None:
    problem = only_problem([(name, corpus.png(1))])

    assert problem.endswith(f": unsafe file name ({reason})")


def test_two_files_with_one_name_are_refused() -> None:
    problem = only_problem([("a.png", corpus.png(1)), ("./a.png", corpus.png(2))])

    assert problem == "a.png: more than one file has this name"


def test_empty_upload_is_refused() -> None:
    assert only_problem([]) == "the upload contains no images"


# --- duplicates ---------------------------------------------------------------------------------


def test_same_picture_in_two_lossless_formats_is_a_duplicate() -> None:
    problem = only_problem([("a.png", corpus.png(1)), ("b.webp", corpus.webp(1))])

    assert problem == "b.webp: duplicate of a.png"


def test_same_picture_with_other_metadata_is_a_duplicate() -> None:
    problem = only_problem([("a.png", corpus.png(1)), ("b.png", corpus.png_with_text_and_icc(1))])

    assert problem == "b.png: duplicate of a.png"


def test_image_already_accepted_before_is_refused() -> None:
    (first,) = validate_images([("a.png", corpus.png(1))])

    problem = only_problem([("again.png", corpus.png(1))], existing_hashes={first.sha256})

    assert problem == "again.png: already uploaded"


def test_hash_does_not_depend_on_the_name_or_container() -> None:
    (a,) = validate_images([("a.png", corpus.png(1))])
    (b,) = validate_images([("other.webp", corpus.webp(1))])
    (c,) = validate_images([("c.png", corpus.png(2))])

    assert a.sha256 == b.sha256 != c.sha256


# --- all or nothing -----------------------------------------------------------------------------


def test_every_problem_the_headers_show_is_reported_at_once_and_nothing_is_returned() -> None:
    files = [
        ("good.png", corpus.png(1)),
        ("cat.png", b"not an image"),
        ("anim.gif", corpus.gif(2)),
        ("bomb.png", corpus.png_claiming_size(50_000, 50_000)),
        ("../evil.png", corpus.png(4)),
        ("half.png", corpus.png(3, (64, 64))[:200]),  # its header is fine: only decoding tells
    ]

    with pytest.raises(UploadRejected) as excinfo:
        validate_images(files)

    assert rejected(excinfo) == [
        "cat.png: not an image (the content is not PNG, JPEG or WebP)",
        "anim.gif: GIF images are not accepted (only PNG, JPEG or WebP)",
        "bomb.png: the image is above the 40,000,000 pixel limit",
        "../evil.png: unsafe file name ('..' component)",
    ]
    assert str(excinfo.value) == "\n".join(rejected(excinfo))


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size in bytes of every file the validation fully decodes."""
    seen: list[int] = []
    real = images_module.decode_image

    def spy(data: bytes, limits: UploadLimits) -> object:
        seen.append(len(data))
        return real(data, limits)

    monkeypatch.setattr(images_module, "decode_image", spy)
    return seen


def test_nothing_is_decoded_once_a_header_refuses_the_upload(decodes: list[int]) -> None:
    files = [("a.png", corpus.png(1)), ("cat.png", b"meow"), ("b.png", corpus.png(2))]

    with pytest.raises(UploadRejected):
        validate_images(files)

    assert decodes == []


def test_decoding_stops_at_the_first_refused_image(decodes: list[int]) -> None:
    files = [
        ("a.png", corpus.png(1)),
        ("half.png", corpus.png(3, (64, 64))[:200]),
        ("b.png", corpus.png(2)),
        ("copy.png", corpus.png(1)),
    ]

    with pytest.raises(UploadRejected) as excinfo:
        validate_images(files)

    assert rejected(excinfo) == ["half.png: the image is truncated or corrupt"]
    assert len(decodes) == 2  # a.png and half.png; b.png and copy.png never


def test_an_upload_past_the_pixel_budget_is_refused_from_the_headers(decodes: list[int]) -> None:
    limits = UploadLimits(max_upload_pixels=500)  # each 16x12 image holds 192 pixels
    files = [(f"{n}.png", corpus.png(n)) for n in range(4)]

    with pytest.raises(UploadRejected) as excinfo:
        validate_images(files, limits=limits)

    assert rejected(excinfo) == [
        "2.png: the upload's images pass the 500 pixel budget of one upload here; upload the "
        "rest as another data group"
    ]
    assert decodes == []


def test_ten_40_megapixel_pngs_in_a_tiny_zip_are_refused_without_decoding(
    decodes: list[int],
) -> None:
    buffer = io.BytesIO()
    Image.new("L", (8000, 5000)).save(buffer, format="PNG")  # 40 MP at the per-image limit
    data = corpus.zip_archive([(f"p{n}.png", buffer.getvalue()) for n in range(10)])
    assert len(data) < 100_000

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("bomb.zip", data))

    assert rejected(excinfo) == [
        "p6.png: the upload's images pass the 250,000,000 pixel budget of one upload here; "
        "upload the rest as another data group"
    ]
    assert decodes == []


def test_archive_members_are_read_one_at_a_time() -> None:
    # 40 entries of 900 KiB (below the size where the compression ratio is checked) that are
    # not images: 35 MiB unpacked from a zip of a few dozen KiB. Each is refused by its header.
    entry = b"\x89PNG\r\n\x1a\n" + bytes(900 * 1024)
    data = corpus.zip_archive([(f"m{n:02d}.png", entry) for n in range(40)])

    tracemalloc.start()
    try:
        with pytest.raises(UploadRejected) as excinfo:
            validate_upload(archive=("bomb.zip", data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(rejected(excinfo)) == 40
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while refusing"


def test_a_jpeg_whose_header_lies_past_the_first_bytes_is_still_accepted() -> None:
    # A 400 KB ICC profile (split over many APP2 segments) pushes the size marker past the
    # bytes the header check reads: the full decode decides.
    noise = corpus.noise_image(5, (20, 10))
    data = corpus.encode(noise, "JPEG", icc_profile=bytes(range(256)) * 1600)
    assert len(data) > images_module.HEAD_BYTES

    (image,) = validate_images([("big-icc.jpg", data)])

    assert (image.width, image.height) == (20, 10)


def test_upload_rejected_accepts_one_message_and_survives_pickling() -> None:
    error = UploadRejected("upload.zip: not a zip archive")

    copy = pickle.loads(pickle.dumps(error))

    assert copy.problems == error.problems == ["upload.zip: not a zip archive"]
    assert str(copy) == "upload.zip: not a zip archive"


# --- captions and labels given as mappings --------------------------------------------------------


def test_captions_and_labels_are_attached_and_stripped() -> None:
    images = validate_images(
        [("a.png", corpus.png(1)), ("b.png", corpus.png(2))],
        captions={"a.png": " a red cat ", "b.png": "a dog"},
        labels={"a.png": "cat", "b.png": "dog"},
    )

    assert [(i.caption, i.label) for i in images] == [("a red cat", "cat"), ("a dog", "dog")]


def test_missing_empty_and_unknown_captions_are_problems() -> None:
    with pytest.raises(UploadRejected) as excinfo:
        validate_images(
            [("a.png", corpus.png(1)), ("b.png", corpus.png(2))],
            captions={"b.png": "  ", "ghost.png": "a ghost"},
        )

    assert rejected(excinfo) == [
        "a.png: has no caption",
        "b.png: the caption is empty",
        "ghost.png: has a caption but is not in the upload",
    ]


# --- archives -----------------------------------------------------------------------------------


def test_archive_with_captions_csv() -> None:
    data = corpus.zip_archive(
        [
            ("a.png", corpus.png(1)),
            ("cats/b.jpg", corpus.jpeg_with_exif(2)),
            (
                "captions.csv",
                corpus.csv_bytes(
                    "file,caption", [("a.png", "a, red cat"), ("cats/b.jpg", "a tabby")]
                ),
            ),
        ]
    )

    images = validate_upload(archive=("upload.zip", data))

    assert [(i.name, i.caption, i.label) for i in images] == [
        ("a.png", "a, red cat", None),
        ("cats/b.jpg", "a tabby", None),
    ]


def test_archive_with_labels_csv_and_a_byte_order_mark() -> None:
    labels = b"\xef\xbb\xbf" + corpus.csv_bytes("File,Label", [("a.png", "cat"), ("b.png", "dog")])
    data = corpus.zip_archive(
        [("a.png", corpus.png(1)), ("b.png", corpus.png(2)), ("labels.csv", labels)]
    )

    images = validate_upload(archive=("upload.zip", data))

    assert [(i.name, i.label, i.caption) for i in images] == [
        ("a.png", "cat", None),
        ("b.png", "dog", None),
    ]


def test_zipped_folder_is_unwrapped_and_clutter_ignored() -> None:
    data = corpus.zip_archive(
        [
            ("holiday/", b""),
            ("holiday/a.png", corpus.png(1)),
            ("holiday/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("holiday/Thumbs.db", b"junk"),
            ("__MACOSX/holiday/._a.png", b"\x00\x05\x16\x07"),
            ("holiday/captions.csv", corpus.csv_bytes("file,caption", [("a.png", "a beach")])),
        ]
    )

    contents = read_archive(data)

    assert [name for name, _ in contents.files] == ["a.png"]
    assert contents.captions == {"a.png": "a beach"}
    assert contents.labels is None


def test_archive_without_csv_has_no_captions() -> None:
    files, captions, labels = read_archive(corpus.zip_archive([("a.png", corpus.png(1))]))

    assert [name for name, _ in files] == ["a.png"]
    assert captions is None
    assert labels is None


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../x.png", "'..' component"),
        ("imgs/../../x.png", "'..' component"),
        ("/etc/x.png", "absolute path"),
        ("C:/x.png", "absolute path"),
        ("..\\x.png", "backslash"),
    ],
)
def test_archive_with_unsafe_path_is_refused(member: str, reason: str) -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1)), (member, corpus.png(2))])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == [f"{member}: unsafe path in archive ({reason})"]


def test_archive_symlink_is_refused() -> None:
    data = corpus.zip_with_symlink("link.png", "/etc/passwd", [("a.png", corpus.png(1))])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == ["link.png: symbolic links are not accepted in archives"]


def test_archive_with_too_many_members_is_refused() -> None:
    data = corpus.zip_archive([(f"{i}.png", b"x") for i in range(4)])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data, UploadLimits(max_archive_members=3))

    assert rejected(excinfo) == ["upload.zip: 4 entries is above the 3 limit"]


def test_zip_bomb_member_is_refused_by_its_compression_ratio() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1)), ("zeros.png", bytes(20 * corpus.MIB))])
    assert len(data) < 100 * 1024
    limits = UploadLimits(max_file_bytes=64 * corpus.MIB, max_compression_ratio=100)

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data, limits)

    (problem,) = rejected(excinfo)
    assert problem.startswith("zeros.png: compression ratio ")
    assert problem.endswith(":1 is above the 100:1 limit (possible zip bomb)")


def test_archive_unpacking_above_the_total_limit_is_refused() -> None:
    data = corpus.zip_archive([("zeros.png", bytes(20 * corpus.MIB))])
    limits = UploadLimits(max_total_uncompressed_bytes=5 * corpus.MIB)

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data, limits, name="bomb.zip")

    assert rejected(excinfo) == ["bomb.zip: unpacks to more than the 5 MiB limit"]


def test_archive_member_above_the_file_limit_is_refused_by_its_header() -> None:
    data = corpus.zip_archive([("big.png", bytes(20 * corpus.MIB))])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == ["big.png: 20 MiB is above the 10 MiB file limit"]


def test_archive_member_whose_header_understates_its_size_is_corrupt() -> None:
    honest = corpus.zip_archive([("a.png", corpus.png(1, (64, 64)))])
    lying = corpus.patch_central_directory(honest, "a.png", file_size=100)

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(lying)

    assert rejected(excinfo) == ["a.png: the archive entry is corrupt"]


def test_encrypted_member_is_refused() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1))])
    encrypted = corpus.patch_central_directory(data, "a.png", flag_bits=0x1)

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(encrypted)

    assert rejected(excinfo) == ["a.png: encrypted (password-protected) entries are not accepted"]


def test_bzip2_member_is_refused() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1))], compression=zipfile.ZIP_BZIP2)

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == [
        "a.png: unsupported compression method (use a standard zip: deflate)"
    ]


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("upload.zip", corpus.png(1)))

    assert rejected(excinfo) == ["upload.zip: not a zip archive"]


def test_archive_above_the_archive_limit_is_refused() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1))])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(io.BytesIO(data), UploadLimits(max_archive_bytes=100))

    (problem,) = rejected(excinfo)
    assert problem.startswith("upload.zip: ")
    assert problem.endswith(" is above the 100 bytes archive limit")


def test_archive_without_images_is_refused() -> None:
    data = corpus.zip_archive([("__MACOSX/._x", b""), ("empty/", b"")])

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("photos.zip", data))

    assert rejected(excinfo) == ["photos.zip: contains no images"]


def test_archive_member_listed_twice_is_refused() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1)), ("./a.png", corpus.png(2))])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == ["a.png: appears more than once in the archive"]


def test_captions_csv_must_cover_every_image_and_only_images() -> None:
    captions = corpus.csv_bytes("file,caption", [("a.png", "a cat"), ("ghost.png", "a ghost")])
    data = corpus.zip_archive(
        [("a.png", corpus.png(1)), ("b.png", corpus.png(2)), ("captions.csv", captions)]
    )

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("upload.zip", data))

    assert rejected(excinfo) == [
        "b.png: has no caption",
        "ghost.png: has a caption but is not in the upload",
    ]


@pytest.mark.parametrize(
    ("csv_data", "problem"),
    [
        (
            b"name,text\r\na.png,x\r\n",
            "captions.csv: the first line must be the header file,caption",
        ),
        (b"", "captions.csv: the first line must be the header file,caption"),
        ("file,caption\na.png,caf\xe9\n".encode("latin-1"), "captions.csv: not UTF-8 text"),
        (
            b"file,caption\na.png,a,b\n",
            "captions.csv line 2: expected 2 columns (file,caption), found 3",
        ),
        (
            b"file,caption\na.png,x\n../a.png,y\n",
            "captions.csv line 3: ../a.png is not a safe file name ('..' component)",
        ),
        (
            b"file,caption\na.png,x\n./a.png,y\n",
            "captions.csv line 3: a.png is listed more than once",
        ),
    ],
    ids=["header", "empty", "latin-1", "columns", "unsafe", "twice"],
)
def test_malformed_captions_csv_is_explained(csv_data: bytes, problem: str) -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1)), ("captions.csv", csv_data)])

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == [problem]


def test_captions_csv_outside_the_top_folder_is_refused() -> None:
    data = corpus.zip_archive(
        [
            ("a.png", corpus.png(1)),
            ("sub/captions.csv", corpus.csv_bytes("file,caption", [("a.png", "x")])),
        ]
    )

    with pytest.raises(UploadRejected) as excinfo:
        read_archive(data)

    assert rejected(excinfo) == ["sub/captions.csv: must be at the top of the archive"]


def test_archive_and_image_problems_are_reported_together() -> None:
    captions = corpus.csv_bytes(
        "file,caption", [("a.png", "a cat"), ("big.png", "too big"), ("cat.png", "text")]
    )
    data = corpus.zip_archive(
        [
            ("a.png", corpus.png(1)),
            ("../evil.png", corpus.png(2)),
            ("big.png", corpus.png(3, (256, 256))),
            ("cat.png", b"meow"),
            ("captions.csv", captions),
        ]
    )

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("upload.zip", data), limits=SMALL)

    # big.png is named in the CSV but was refused by the archive check: reported once, not twice.
    assert rejected(excinfo) == [
        "../evil.png: unsafe path in archive ('..' component)",
        "big.png: 192.6 KiB is above the 64 KiB file limit",
        "cat.png: not an image (the content is not PNG, JPEG or WebP)",
    ]


def test_duplicates_inside_an_archive_are_found() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1)), ("b/a copy.webp", corpus.webp(1))])

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload(archive=("upload.zip", data))

    assert rejected(excinfo) == ["b/a copy.webp: duplicate of a.png"]


def test_validate_upload_takes_single_files_with_captions() -> None:
    (image,) = validate_upload([("a.png", corpus.png(1))], captions={"a.png": "a cat"})

    assert image.caption == "a cat"


def test_validate_upload_refuses_files_and_archive_together() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1))])

    with pytest.raises(UploadRejected) as excinfo:
        validate_upload([("b.png", corpus.png(2))], archive=("upload.zip", data))

    assert rejected(excinfo) == ["upload either image files or one zip archive, not both"]


def test_validate_upload_refuses_captions_argument_with_an_archive() -> None:
    data = corpus.zip_archive([("a.png", corpus.png(1))])

    with pytest.raises(ValueError, match=r"captions\.csv"):
        validate_upload(archive=("upload.zip", data), captions={"a.png": "x"})


@settings(max_examples=60, deadline=None)
# zipfile itself truncates names at NUL (and cannot write an empty name), so NUL is left out;
# names are UTF-8 text (a lone surrogate cannot be written to a zip at all).
@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40))
def test_archive_never_yields_an_unsafe_path(member: str) -> None:
    data = corpus.zip_archive([(member, b"x")])

    try:
        files = read_archive(data).files
    except UploadRejected:
        return  # refusing is always safe; what matters is what gets through
    for name, _ in files:
        assert not name.startswith("/")
        assert "\\" not in name
        assert ".." not in name.split("/")
        assert name.isprintable()
