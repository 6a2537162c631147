"""The synthetic EHR extract, the MIMIC-III reader and Safe Harbor de-identification."""
from __future__ import annotations

import gzip
import shutil
import warnings
from datetime import datetime

import numpy as np
import pytest

from gan_tutorial.data import ehr
from gan_tutorial.runtime import data_dir

SAMPLE = data_dir() / "mimic3_sample"
FMT = ehr.TIME_FORMAT


@pytest.fixture(scope="module")
def extract():
    return ehr.make_extract(400, seed=3)


@pytest.fixture()
def folder(tmp_path, extract):
    return ehr.write_tables(ehr.deidentify(extract, seed=1), tmp_path / "mimic")


def _lines(path):
    return path.read_text().splitlines()


# ----------------------------------------------------------------------------- generator
def test_extract_statistics_resemble_mimic(tmp_path):
    folder = ehr.synthetic_mimic3(tmp_path, 3000, seed=0)
    X, codes, pids = ehr.read_mimic3(folder)
    n = X.sum(1)
    assert 9 <= n.mean() <= 13             # Table 1, MIMIC-III: 11.27 codes per patient
    assert n.min() >= 1 and n.max() >= 40
    assert X.shape[1] >= 150 and len(set(pids)) == len(pids)
    p = X.mean(0)
    assert (p < 0.01).sum() > (p > 0.1).sum()  # a long tail of rare codes


def test_comorbidity_structure(extract, tmp_path):
    X, codes, _ = ehr.read_mimic3(ehr.write_tables(extract, tmp_path))
    dm, kid = X[:, codes.index("250")], X[:, codes.index("585")] + X[:, codes.index("403")]
    kid = kid > 0
    assert kid[dm > 0].mean() > 2 * kid[dm == 0].mean()  # diabetes raises kidney disease


def test_codes_are_icd9_and_common_ones_real(extract):
    dx = extract["DIAGNOSES_ICD"].column("ICD9_CODE")
    assert all(ehr.is_icd9(c) for c in dx)
    assert any(c.startswith("V") for c in dx) and any(c.startswith("E") for c in dx)
    assert ehr.code_name("4019") == "Unspecified essential hypertension"
    assert ehr.code_name("401") == "Essential hypertension"


def test_mimic_quoting(folder):
    lines = _lines(folder / "DIAGNOSES_ICD.csv")
    assert lines[0] == '"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"'
    cells = lines[1].split(",")
    assert cells[0].isdigit() and cells[4].startswith('"') and cells[4].endswith('"')
    adm = _lines(folder / "ADMISSIONS.csv")[1].split(",")
    datetime.strptime(adm[3], FMT)           # times bare, as in MIMIC-III


def test_same_seed_same_extract():
    a, b = ehr.make_extract(50, seed=7), ehr.make_extract(50, seed=7)
    assert a["DIAGNOSES_ICD"].rows == b["DIAGNOSES_ICD"].rows


# ----------------------------------------------------------------------------- reader
def test_reader_semantics(tmp_path):
    (tmp_path / "ADMISSIONS.csv").write_text(
        '"ROW_ID","SUBJECT_ID","HADM_ID","ADMITTIME"\n'
        '1,10,100,2100-01-01 00:00:00\n2,10,101,2101-01-01 00:00:00\n3,11,102,2100-05-05 00:00:00\n')
    (tmp_path / "DIAGNOSES_ICD.csv").write_text(
        '"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"\n'
        '1,10,100,1,"4019"\n2,10,100,2,"25000"\n3,10,101,1,"4011"\n4,11,102,1,"E8788"\n'
        '5,11,102,2,"V4581"\n')
    X, codes, pids = ehr.read_mimic3(tmp_path)
    assert list(pids) == [10, 11]
    assert codes == ["250", "401", "E878", "V45"]          # by frequency, then code
    assert X[0, codes.index("401")] == 1 and X.sum() == 4  # two admissions aggregated, 4019+4011 -> 401
    C, _, _ = ehr.read_mimic3(tmp_path, binary=False)
    assert C[0, codes.index("401")] == 2                    # 4019 and 4011 counted
    F, fcodes, _ = ehr.read_mimic3(tmp_path, grouping="full")
    assert {"401.9", "401.1", "250.00", "E878.8", "V45.81"} == set(fcodes)


def test_reader_reads_gzip(folder, tmp_path):
    gz = tmp_path / "gz"
    gz.mkdir()
    for name in ("ADMISSIONS", "DIAGNOSES_ICD"):
        with open(folder / f"{name}.csv", "rb") as f, gzip.open(gz / f"{name}.csv.gz", "wb") as g:
            shutil.copyfileobj(f, g)
    a, b = ehr.read_mimic3(folder), ehr.read_mimic3(gz)
    assert np.array_equal(a.matrix, b.matrix) and a.codes == b.codes


def test_sample_folder_reads():
    X, codes, pids = ehr.read_mimic3(SAMPLE)
    assert X.shape == (len(pids), len(codes)) and X.sum() > 0
    header = _lines(SAMPLE / "PATIENTS.csv")[0]
    assert "NAME" not in header and "MRN" not in header


def test_missing_file(tmp_path, folder):
    shutil.copy(folder / "ADMISSIONS.csv", tmp_path / "ADMISSIONS.csv")
    with pytest.raises(FileNotFoundError, match="DIAGNOSES_ICD.csv"):
        ehr.read_mimic3(tmp_path)


def test_missing_column(folder):
    p = folder / "DIAGNOSES_ICD.csv"
    p.write_text(p.read_text().replace('"ICD9_CODE"', '"CODE"', 1))
    with pytest.raises(ValueError, match=r"DIAGNOSES_ICD.csv: missing column\(s\) \['ICD9_CODE'\]"):
        ehr.read_mimic3(folder)


def test_empty_table(folder):
    (folder / "ADMISSIONS.csv").write_text('"ROW_ID","SUBJECT_ID","HADM_ID","ADMITTIME"\n')
    with pytest.raises(ValueError, match="ADMISSIONS.csv: the table has a header but no rows"):
        ehr.read_mimic3(folder)
    (folder / "ADMISSIONS.csv").write_text("")
    with pytest.raises(ValueError, match="ADMISSIONS.csv: the file is empty"):
        ehr.read_mimic3(folder)


def test_malformed_code_names_line_and_field(folder):
    p = folder / "DIAGNOSES_ICD.csv"
    lines = _lines(p)
    cells = lines[3].split(",")
    cells[4] = '"40X9"'
    lines[3] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"DIAGNOSES_ICD.csv, line 4, ICD9_CODE: '40X9' is not an ICD-9-CM code"):
        ehr.read_mimic3(folder)


def test_malformed_id_and_time(folder):
    p = folder / "ADMISSIONS.csv"
    lines = _lines(p)
    cells = lines[2].split(",")
    cells[3] = "yesterday"
    lines[2] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="ADMISSIONS.csv, line 3, ADMITTIME"):
        ehr.read_mimic3(folder)


def test_unknown_admission_is_counted_not_silent(folder):
    p = folder / "DIAGNOSES_ICD.csv"
    p.write_text(p.read_text() + '999999,1,987654321,1,"4019"\n999998,1,987654321,2,\n')
    n_lines = len(_lines(p))
    with pytest.warns(ehr.MimicWarning, match=rf"HADM_ID not in ADMISSIONS: 1 \(first: \[{n_lines - 1}\]\)"):
        ehr.read_mimic3(folder)
    with pytest.warns(ehr.MimicWarning, match=r"empty ICD9_CODE: 1"):
        ehr.read_mimic3(folder)
    with pytest.raises(ValueError, match="HADM_ID not in ADMISSIONS"):
        ehr.read_mimic3(folder, strict=True)


def test_repeated_admission(folder):
    p = folder / "ADMISSIONS.csv"
    lines = _lines(p)
    p.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(ValueError, match=r"HADM_ID: \d+ repeats line 2"):
        ehr.read_mimic3(folder)


def test_clean_folder_gives_no_warning(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ehr.read_mimic3(folder)


def test_bad_grouping(folder):
    with pytest.raises(ValueError, match="grouping"):
        ehr.read_mimic3(folder, grouping="2digit")


# ----------------------------------------------------------------------------- de-identification
def test_deidentify_removes_direct_identifiers(extract):
    out = ehr.deidentify(extract, seed=0)
    raw_p = extract["PATIENTS"]
    for col in ehr.IDENTIFIER_COLUMNS:
        assert col in raw_p.columns and col not in out["PATIENTS"].columns
    secrets = set()
    for col in ehr.IDENTIFIER_COLUMNS:
        secrets |= set(raw_p.column(col))
    for t in out.values():
        for r in t.rows:
            assert not secrets.intersection(v for v in r if v)


def test_deidentify_rekeys_ids(extract):
    out = ehr.deidentify(extract, seed=0)
    old_s = set(extract["PATIENTS"].column("SUBJECT_ID"))
    old_h = set(extract["ADMISSIONS"].column("HADM_ID"))
    assert not old_s & set(out["PATIENTS"].column("SUBJECT_ID"))
    assert not old_h & set(out["ADMISSIONS"].column("HADM_ID"))
    assert set(out["DIAGNOSES_ICD"].column("HADM_ID")) <= set(out["ADMISSIONS"].column("HADM_ID"))


def _times(table):
    return [(c, datetime.strptime(v, FMT)) for r in table.rows
            for c, v in zip(table.columns, r) if c in ehr.TIME_COLUMNS and v]


def test_deidentify_shifts_every_date_and_keeps_intervals(extract):
    out = ehr.deidentify(extract, seed=0)
    for name in ("PATIENTS", "ADMISSIONS"):
        assert all(t.year <= 2040 for _, t in _times(extract[name]))
        assert all(t.year >= 2100 for c, t in _times(out[name]) if c != "DOB")
    dob0 = extract["PATIENTS"].column("DOB")
    dob1 = out["PATIENTS"].column("DOB")
    assert all(a != b for a, b in zip(dob0, dob1))
    A0, A1 = extract["ADMISSIONS"], out["ADMISSIONS"]
    i, j = A0.col("ADMITTIME"), A0.col("DISCHTIME")
    for r0, r1 in zip(A0.rows, A1.rows):
        los0 = datetime.strptime(r0[j], FMT) - datetime.strptime(r0[i], FMT)
        los1 = datetime.strptime(r1[j], FMT) - datetime.strptime(r1[i], FMT)
        assert los0 == los1
    # one offset per patient: the shifts differ between patients
    s = A0.col("SUBJECT_ID")
    shift = {}
    for r0, r1 in zip(A0.rows, A1.rows):
        d = datetime.strptime(r1[i], FMT) - datetime.strptime(r0[i], FMT)
        assert shift.setdefault(r0[s], d) == d
    assert len(set(shift.values())) > len(shift) // 2


def _ages(tables):
    dob = {r[1]: datetime.strptime(r[3], FMT) for r in tables["PATIENTS"].rows}
    A = tables["ADMISSIONS"]
    i, s = A.col("ADMITTIME"), A.col("SUBJECT_ID")
    return [(r[s], (datetime.strptime(r[i], FMT) - dob[r[s]]).days / 365.25) for r in A.rows]


def test_deidentify_groups_ages_over_89(extract):
    raw = _ages(extract)
    assert any(a > 89 for _, a in raw)  # the extract has the oldest old
    out = _ages(ehr.deidentify(extract, seed=0))
    for _, a in out:
        assert a <= 89 or a >= 299.9    # no true age above 89 is left
    old_raw = {s for s, a in raw if a > 89}
    assert sum(a >= 299.9 for _, a in out) >= len(old_raw)


def test_deidentify_bad_input(extract):
    with pytest.raises(ValueError, match="needs the table DIAGNOSES_ICD"):
        ehr.deidentify({k: v for k, v in extract.items() if k != "DIAGNOSES_ICD"})
    bad = dict(extract)
    A = extract["ADMISSIONS"]
    bad["ADMISSIONS"] = ehr.Table("ADMISSIONS", A.columns, [list(r) for r in A.rows], A.kinds)
    bad["ADMISSIONS"].rows[2][A.col("ADMITTIME")] = "2001-13-45"
    with pytest.raises(ValueError, match="ADMISSIONS row 3, ADMITTIME: '2001-13-45'"):
        ehr.deidentify(bad)
