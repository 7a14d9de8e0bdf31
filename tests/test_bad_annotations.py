"""Bad annotation files, table-driven: each is one line naming the file and line/key, or a counted skip.

Every case starts from the REAL annotation files (copied into ``tmp_path`` only) with stand-in
images, damages one thing, and says what must happen:

* ``stop``: the loader (``when="index"``) or loading the first pair (``when="load"``) raises an
  :class:`~corrbench.data.checks.AnnotationError` whose one-line message contains every piece of
  ``pieces``, whatever ``strict`` says;
* ``skip``: strict mode raises the same kind of one-line error; ``strict=False`` warns, keeps all
  other pairs and counts the damaged one under ``reason`` in ``skip_report()``.

Add the next bad file as a row of ``CASES``.  A row's ``changes`` maps a path inside the dataset
root to new bytes (or a function of the old bytes); the damaged root is an overlay of symlinks to
the module's clean root, so a case costs only the files it changes.
"""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from corrbench.cli.main import main
from corrbench.data.checks import AnnotationError
from corrbench.data.pfpascal import PFPascalDataset
from corrbench.data.pfwillow import PFWillowDataset
from corrbench.data.spair import SPairDataset
from corrbench.data.tss import TSSDataset
from corrbench.errors import CorrbenchError
from dataset_roots import build_pfpascal, build_pfwillow, build_spair, write_mat

pytestmark = pytest.mark.shared

PP = "PF-dataset-PASCAL"
PP_CSV = f"{PP}/test_pairs.csv"
PP_IMG = f"{PP}/JPEGImages/2011_001407.jpg"  # source of the first test pair (aeroplane)
PP_MAT = f"{PP}/Annotations/aeroplane/2011_001407.mat"
PW_MC = "PF-dataset/test_pairs_macosnet450.csv"
PW_STD = "PF-dataset/test_pairs_pf.csv"
SP_FIRST = "SPair-71k/PairAnnotation/test/000001-2008_002719-2008_004100:aeroplane.json"
SP_LAYOUT = "SPair-71k/Layout/large/test.txt"
SP_IMG = "SPair-71k/JPEGImages/aeroplane/2008_002719.jpg"


# --- damage ---------------------------------------------------------------------------------
def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height``, followed by a token IDAT (PIL reads up to it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def tiny_image(fmt: str = "JPEG") -> bytes:
    """A valid 1x1 image: it decodes, only its size is wrong."""
    import io

    out = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 200, 200)).save(out, format=fmt)
    return out.getvalue()


def csv_cell(line: int, column: str, value: str) -> Callable[[bytes], bytes]:
    """Set one cell of a csv (``line`` 2 is the first row); quoted cells are not used in these files."""
    def change(raw: bytes) -> bytes:
        lines = raw.decode().splitlines()
        header = lines[0].split(",")
        cells = lines[line - 1].split(",")
        cells[header.index(column)] = value
        lines[line - 1] = ",".join(cells)
        return ("\n".join(lines) + "\n").encode()

    return change


def csv_column(line: int, index: int, value: str) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        lines = raw.decode().splitlines()
        cells = lines[line - 1].split(",")
        cells[index] = value
        lines[line - 1] = ",".join(cells)
        return ("\n".join(lines) + "\n").encode()

    return change


def first_lines(count: int) -> Callable[[bytes], bytes]:
    """The file cut at a line boundary: its first ``count`` lines."""
    return lambda raw: b"".join(raw.splitlines(keepends=True)[:count])


def extra_copy_of_line(line: int) -> Callable[[bytes], bytes]:
    return lambda raw: raw + raw.splitlines(keepends=True)[line - 1]


def replace_line(line: int, text: bytes) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        lines = raw.splitlines(keepends=True)
        lines[line - 1] = text + b"\n"
        return b"".join(lines)

    return change


def bad_byte_on_line(line: int) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        lines = raw.splitlines(keepends=True)
        lines[line - 1] = lines[line - 1][:3] + b"\xff" + lines[line - 1][3:]
        return b"".join(lines)

    return change


def json_key(key: str, value: Any) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        data = json.loads(raw)
        data[key] = value(data[key]) if callable(value) else value
        return json.dumps(data).encode()  # NaN is written as the bare token NaN, as Python allows

    return change


def first_point(value: Any) -> Callable[[list], list]:
    return lambda points: [[value, points[0][1]], *points[1:]]


def mat_with_bbox(bbox: list[float]) -> Callable[[Path], None]:
    """Write a stand-in .mat (the image's real keypoints) with ``bbox``."""
    def write(path: Path) -> None:
        from scipy.io import loadmat

        kps = loadmat(str(path.resolve()))["kps"]
        path.unlink()
        write_mat(path, kps, bbox)

    return write


@dataclass
class Case:
    id: str
    dataset: str  # key of the clean roots
    changes: dict[str, Any]
    expect: str  # "stop" or "skip"
    pieces: tuple[str, ...]
    when: str = "index"  # "index": the constructor; "load": dataset[0]
    reason: str = ""
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    # PF-PASCAL pair list rows: strict error or counted skip
    Case("pfpascal class abc", "pfpascal", {PP_CSV: csv_cell(2, "class", "abc")}, "skip",
         ("test_pairs.csv line 2", "class 'abc' is not an id 1..20", "corrbench download pfpascal --force"),
         reason="bad class id"),
    Case("pfpascal class 21", "pfpascal", {PP_CSV: csv_cell(40, "class", "21")}, "skip",
         ("test_pairs.csv line 40", "class '21'"), reason="bad class id"),
    Case("pfpascal text in keypoint cell", "pfpascal", {PP_CSV: csv_cell(3, "XB", "12.5;abc;40")}, "skip",
         ("test_pairs.csv line 3 column XB", "'abc' is not a finite coordinate"), reason="bad keypoint"),
    Case("pfpascal nan keypoint", "pfpascal", {PP_CSV: csv_cell(3, "YA", "nan;1;2")}, "skip",
         ("test_pairs.csv line 3 column YA", "'nan'"), reason="bad keypoint"),
    # PF-PASCAL whole list: always stops
    Case("pfpascal header only", "pfpascal", {PP_CSV: first_lines(1)}, "stop",
         ("test_pairs.csv lists no pairs (header only)", "PF-PASCAL test has 299", "cut short", "subset=True")),
    Case("pfpascal cut at a line", "pfpascal", {PP_CSV: first_lines(151)}, "stop",
         ("test_pairs.csv lists only 150 pairs", "PF-PASCAL test has 299", "--force")),
    Case("pfpascal extra row", "pfpascal", {PP_CSV: extra_copy_of_line(2)}, "stop",
         ("test_pairs.csv lists 300 pairs", "not the official list")),
    Case("pfpascal not utf-8", "pfpascal", {PP_CSV: bad_byte_on_line(7)}, "stop",
         ("test_pairs.csv line 7 is not UTF-8 text (byte 0xff)",)),
    Case("pfpascal train cut", "pfpascal", {f"{PP}/train_pairs.csv": first_lines(2000)}, "stop",
         ("train_pairs.csv lists only 1999 pairs", "PF-PASCAL train has 2940"), options={"split": "train"}),
    # PF-PASCAL images: found on load, always stop
    Case("pfpascal 1x1 image", "pfpascal", {PP_IMG: tiny_image()}, "stop",
         ("keypoint 1 (253.6, 58.2) of", "test_pairs.csv line 2", "lies outside image", "2011_001407.jpg (1x1)"),
         when="load"),
    Case("pfpascal box off the image", "pfpascal", {PP_MAT: mat_with_bbox([10, 10, 5000, 200])}, "stop",
         ("bbox [10, 10, 5000, 200] lies outside the", "2011_001407.mat"), when="load"),
    Case("pfpascal empty box", "pfpascal", {PP_MAT: mat_with_bbox([50, 10, 50, 200])}, "stop",
         ("bbox [50, 10, 50, 200] has zero or negative area", "2011_001407.mat"), when="load"),
    Case("pfpascal decompression bomb", "pfpascal", {PP_IMG: png_claiming(100000, 100000)}, "stop",
         ("2011_001407.jpg claims 10000000000 pixels", "decompression bomb", "--force"), when="load"),
    # PF-WILLOW
    Case("pfwillow text in packed cell", "willow_mc", {PW_MC: csv_cell(5, "XA", "abc")}, "skip",
         ("test_pairs_macosnet450.csv line 5 column XA", "'abc' is not a finite coordinate"),
         reason="bad keypoint", options={"pair_list": "macosnet450"}),
    Case("pfwillow text in standard cell", "willow_std", {PW_STD: csv_column(9, 14, "n/a")}, "skip",
         ("test_pairs_pf.csv line 9 column AY3", "'n/a'"), reason="bad keypoint"),
    Case("pfwillow class abc", "willow_mc", {PW_MC: csv_cell(4, "class", "abc")}, "skip",
         ("line 4: class 'abc' disagrees with folder",), reason="bad class id", options={"pair_list": "macosnet450"}),
    Case("pfwillow standard cut", "willow_std", {PW_STD: first_lines(900)}, "stop",
         ("test_pairs_pf.csv lists only 899 pairs", "PF-WILLOW (standard list) test has 900")),
    Case("pfwillow macosnet header only", "willow_mc", {PW_MC: first_lines(1)}, "stop",
         ("lists no pairs (header only)", "PF-WILLOW (macosnet450 list) test has 450"),
         options={"pair_list": "macosnet450"}),
    Case("pfwillow 1x1 image", "willow_mc", {"PF-dataset/motorbike(G)/Motorbikes_039.png": tiny_image("PNG")}, "stop",
         ("keypoint 1 (186.1, ", "test_pairs_macosnet450.csv line 2", "motorbike(G)/Motorbikes_039.png (1x1)"),
         when="load", options={"pair_list": "macosnet450"}),
    # SPair-71k: the sample is cut down, so its loads say subset=True
    Case("spair src_imsize one value", "spair", {SP_FIRST: json_key("src_imsize", [500])}, "stop",
         ("000001-2008_002719-2008_004100:aeroplane.json key 'src_imsize' is [500]", "--force"), when="load"),
    Case("spair nan keypoint", "spair", {SP_FIRST: json_key("src_kps", first_point(float("nan")))}, "stop",
         ("aeroplane.json key 'src_kps' entry 0 is [NaN,", "not a finite [x, y]"), when="load"),
    Case("spair null keypoint", "spair", {SP_FIRST: json_key("trg_kps", first_point(None))}, "stop",
         ("aeroplane.json key 'trg_kps' entry 0 is [null,",), when="load"),
    Case("spair keypoint off the image", "spair", {SP_FIRST: json_key("src_kps", first_point(9000))}, "stop",
         ("key 'src_kps' entry 0 [9000.0,", "lies outside the"), when="load"),
    Case("spair zero-area box", "spair", {SP_FIRST: json_key("src_bndbox", [10, 20, 10, 90])}, "stop",
         ("key 'src_bndbox' [10, 20, 10, 90] has zero or negative area (a PCK threshold of 0)",), when="load"),
    Case("spair difficulty code", "spair", {SP_FIRST: json_key("occlusion", 7)}, "stop",
         ("key 'occlusion' is 7, not a code 0..3",), when="load"),
    Case("spair layout not utf-8", "spair", {SP_LAYOUT: bad_byte_on_line(3)}, "stop",
         ("Layout/large/test.txt line 3 is not UTF-8 text (byte 0xff)",)),
    Case("spair layout bad line", "spair", {SP_LAYOUT: replace_line(5, b"003720-2011_002387:bottle")}, "skip",
         ("Layout/large/test.txt line 5 is not '<id>-<src>-<trg>:<category>'",), reason="bad layout line"),
    Case("spair layout unknown category", "spair", {SP_LAYOUT: replace_line(2, b"000004-2008_002719-2008_006085:ufo")},
         "skip", ("Layout/large/test.txt line 2 is not",), reason="bad layout line"),
    Case("spair decompression bomb", "spair", {SP_IMG: png_claiming(100000, 100000)}, "stop",
         ("2008_002719.jpg claims 10000000000 pixels",), when="load"),
]
SPAIR_SUBSET = {"subset": True}


# --- roots ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(shared_data, tmp_path_factory) -> dict[str, Path]:
    roots = {}
    for key, build in (
        ("pfpascal", lambda top: build_pfpascal(top, shared_data)),
        ("willow_mc", lambda top: build_pfwillow(top, shared_data)),
        ("willow_std", lambda top: build_pfwillow(top, shared_data, standard=True)),
        ("spair", lambda top: build_spair(top, shared_data, masks=False)),
    ):
        top = tmp_path_factory.mktemp(key)
        build(top)
        roots[key] = top
    return roots


def overlay(source: Path, target: Path, changes: dict[str, Any]) -> Path:
    """``target`` mirrors ``source`` by symlinks, except the changed files (real copies)."""
    target.mkdir(parents=True, exist_ok=True)
    heads = {Path(rel).parts[0]: rel for rel in changes}
    for child in source.iterdir():
        inner = {str(Path(*Path(rel).parts[1:])): v for rel, v in changes.items() if Path(rel).parts[0] == child.name}
        if child.name not in heads:
            (target / child.name).symlink_to(child)
        elif child.is_dir():
            overlay(child, target / child.name, inner)
        else:
            change = inner["."]
            if callable(change) and change.__code__.co_varnames[:1] == ("path",):
                (target / child.name).write_bytes(child.read_bytes())
                change(target / child.name)
            else:
                data = change(child.read_bytes()) if callable(change) else change
                (target / child.name).write_bytes(data)
    return target


def open_dataset(case: Case, root: Path, **extra: Any):
    options = {**case.options, **extra}
    if case.dataset == "pfpascal":
        return PFPascalDataset(root=str(root), **options)
    if case.dataset.startswith("willow"):
        return PFWillowDataset(root=str(root), **options)
    return SPairDataset(root=str(root), **SPAIR_SUBSET, **options)


def assert_one_line(error: BaseException, pieces: tuple[str, ...]) -> None:
    message = str(error)
    assert isinstance(error, AnnotationError) and isinstance(error, CorrbenchError), type(error)
    assert "\n" not in message and "Traceback" not in message, message
    for piece in pieces:
        assert piece in message, f"{piece!r} not in {message!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_annotation(case: Case, clean, tmp_path):
    root = overlay(clean[case.dataset], tmp_path / "root", case.changes)
    for strict in ((True,) if case.expect == "skip" else (True, False)):
        with pytest.raises(AnnotationError) as caught:
            data = open_dataset(case, root, strict=strict)
            if case.when == "load":
                data[0]
        assert_one_line(caught.value, case.pieces)
    if case.expect == "skip":
        clean_count = len(open_dataset(case, clean[case.dataset]))
        with pytest.warns(UserWarning, match=rf"skipped 1 pair\(s\) \(1 {case.reason}\)"):
            lenient = open_dataset(case, root, strict=False)
        assert lenient.skip_report() == {case.reason: 1}
        assert len(lenient) == clean_count - 1 and lenient.provenance()["skipped"] == {case.reason: 1}


def test_subset_true_accepts_a_short_list_but_says_so(clean, tmp_path):
    root = overlay(clean["pfpascal"], tmp_path / "root", {PP_CSV: first_lines(151)})
    data = PFPascalDataset(root=str(root), subset=True)
    assert len(data) == 150 and data.provenance()["subset"] is True and data.provenance()["expected_pairs"] == 299
    root = overlay(clean["pfpascal"], tmp_path / "more", {PP_CSV: extra_copy_of_line(2)})
    with pytest.raises(AnnotationError, match="lists 300 pairs"):  # subset never accepts more
        PFPascalDataset(root=str(root), subset=True)
    with pytest.raises(AnnotationError, match="lists only 20 pairs but SPair-71k Layout/large test has 12234"):
        SPairDataset(root=str(clean["spair"]))


def test_cli_prints_one_line_for_a_wrong_image(clean, tmp_path, capsys):
    root = overlay(clean["pfpascal"], tmp_path / "root", {PP_IMG: tiny_image()})
    argv = ["run", "--method", "identity", "--dataset", "pfpascal", "--root", str(root), "--limit", "1",
            "--no-resume", "--no-leaderboard"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "2011_001407.jpg (1x1)" in err, err


def test_tss_short_root_warns_and_a_bomb_mask_stops(shared_data, tmp_path):
    with pytest.warns(UserWarning, match=r"holds 1 of FG3DCar's 195, 1 of JODS's 81, 2 of PASCAL's 124 pair folders"):
        short = TSSDataset(str(shared_data / "tss"))
    assert short.provenance()["expected_pairs"] == 400 and short.provenance()["subset"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TSSDataset(str(shared_data / "tss"), subset=True)
    pair = tmp_path / "TSS" / "PASCAL" / "bike_01_02"
    pair.mkdir(parents=True)
    for path in (shared_data / "tss" / "PASCAL" / "bike_01_02").iterdir():
        (pair / path.name).write_bytes(path.read_bytes())
    (pair / "mask1.png").write_bytes(png_claiming(100000, 100000))
    with pytest.raises(AnnotationError) as caught:
        TSSDataset(str(tmp_path / "TSS"), subset=True)[0]
    assert_one_line(caught.value, ("mask1.png claims 10000000000 pixels",))


# --- the real files still load, with no skip and no warning --------------------------------
def test_real_files_load_with_no_skips(clean):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = {}
        for split, count in (("test", 299), ("val", 308), ("train", 2940)):
            data = PFPascalDataset(root=str(clean["pfpascal"]), split=split)
            assert len(data) == count and data.skip_report() == {}
            checked[f"pfpascal/{split}"] = len(data)
        assert all(pair.src_kps.size for pair in PFPascalDataset(root=str(clean["pfpascal"])))  # every test pair loads
        for key, options, count in (("willow_mc", {"pair_list": "macosnet450"}, 450), ("willow_std", {}, 900)):
            data = PFWillowDataset(root=str(clean[key]), **options)
            assert len(data) == count and data.skip_report() == {} and len(list(data)) == count
            checked[key] = count
        for split, count in (("test", 20), ("val", 4)):
            data = SPairDataset(root=str(clean["spair"]), split=split, subset=True)
            assert len(data) == count and data.skip_report() == {} and len(list(data)) == count
        assert checked == {"pfpascal/test": 299, "pfpascal/val": 308, "pfpascal/train": 2940,
                           "willow_mc": 450, "willow_std": 900}


def test_real_val_list_with_keypoints_loads_with_no_skips(shared_data, clean, tmp_path):
    """MaCoSNet's eval.csv (the 308 val pairs with keypoints) indexes cleanly in place of val_pairs.csv."""
    root = overlay(clean["pfpascal"], tmp_path / "root", {f"{PP}/val_pairs.csv": b""})
    (root / PP / "val_pairs.csv").unlink()
    (root / PP / "eval.csv").write_bytes((shared_data / "pf-pascal" / "val_pairs_with_keypoints.csv").read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = PFPascalDataset(root=str(root), split="val")
    assert len(data) == 308 and data.skip_report() == {} and all("src_kps" in r for r in data.records)
    assert sum(len(r["src_kps"]) for r in data.records) == 2519  # spec datasets.md §2.2 [counted]
    assert np.isfinite(np.concatenate([r["trg_kps"] for r in data.records])).all()
