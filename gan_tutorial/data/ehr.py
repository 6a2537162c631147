"""Electronic health records: a synthetic hospital extract in the MIMIC-III format, the reader
of MIMIC-III diagnosis tables, and HIPAA Safe Harbor de-identification.

Everything this module generates is SYNTHETIC: no row describes a real person.

``make_extract(n_patients, seed)`` draws a cohort with known structure: latent chronic conditions
(phenotypes) with comorbidities (diabetes raises hypertension and kidney disease, coronary disease
raises heart failure, ...), age and sex effects, acute events per admission, a long tail of rare
codes, and one or more admissions per patient. It returns the tables a hospital would extract
*before* de-identification: ``PATIENTS`` (with name, medical record number, ZIP code, phone and
real dates of birth), ``ADMISSIONS`` and ``DIAGNOSES_ICD``, in MIMIC-III's columns.
``write_tables`` writes them as CSV with MIMIC-III's quoting (strings quoted, numbers and times
bare, nulls empty).

``deidentify(tables)`` applies the Safe Harbor steps that concern these tables: direct
identifiers removed, ids re-keyed, all dates shifted by one random offset per patient (as
MIMIC-III did), and ages over 89 grouped (the date of birth moved so the age reads 300, as in
MIMIC-III).

``read_mimic3(folder)`` reads ``ADMISSIONS.csv`` and ``DIAGNOSES_ICD.csv`` (or ``.csv.gz``) with
the semantics of medGAN's ``process_mimic.py`` (Choi et al. 2017): all diagnoses of all
admissions of a patient are aggregated; codes are grouped to their 3-digit category (E codes to
4 characters) or kept whole; the result is a binary or count patient x code matrix. Pointed at a
real MIMIC-III folder it reads the real data.

Codes are ICD-9-CM as MIMIC-III stores them, without the dot ("4019" is 401.9). The common
codes are real, with their meaning in ``ICD9_NAMES``; the long tail uses well-formed codes of
categories the generator does not model (their meaning is not simulated).
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# ---------------------------------------------------------------------------------------------
# ICD-9-CM codes used by the generator (as MIMIC-III stores them: no dot)
# ---------------------------------------------------------------------------------------------
ICD9_NAMES: dict[str, str] = {
    "4019": "Unspecified essential hypertension",
    "40390": "Hypertensive chronic kidney disease, stage I-IV or unspecified",
    "40391": "Hypertensive chronic kidney disease, stage V or end stage renal disease",
    "25000": "Diabetes mellitus type II without complication",
    "25040": "Diabetes mellitus type II with renal manifestations",
    "25060": "Diabetes mellitus type II with neurological manifestations",
    "3572": "Polyneuropathy in diabetes",
    "V5867": "Long-term (current) use of insulin",
    "5859": "Chronic kidney disease, unspecified",
    "5856": "End stage renal disease",
    "V4511": "Renal dialysis status",
    "5849": "Acute kidney failure, unspecified",
    "5845": "Acute kidney failure with lesion of tubular necrosis",
    "4280": "Congestive heart failure, unspecified",
    "42832": "Chronic diastolic heart failure",
    "42822": "Chronic systolic heart failure",
    "4168": "Other chronic pulmonary heart diseases",
    "41401": "Coronary atherosclerosis of native coronary artery",
    "412": "Old myocardial infarction",
    "41071": "Subendocardial infarction, initial episode of care",
    "4111": "Intermediate coronary syndrome",
    "4139": "Other and unspecified angina pectoris",
    "V4581": "Aortocoronary bypass status",
    "V4582": "Percutaneous transluminal coronary angioplasty status",
    "42731": "Atrial fibrillation",
    "V5861": "Long-term (current) use of anticoagulants",
    "2724": "Other and unspecified hyperlipidemia",
    "2720": "Pure hypercholesterolemia",
    "V5866": "Long-term (current) use of aspirin",
    "496": "Chronic airway obstruction, not elsewhere classified",
    "49121": "Obstructive chronic bronchitis with acute exacerbation",
    "3051": "Tobacco use disorder",
    "V1582": "Personal history of tobacco use",
    "0389": "Unspecified septicemia",
    "99591": "Sepsis",
    "99592": "Severe sepsis",
    "78552": "Septic shock",
    "486": "Pneumonia, organism unspecified",
    "5070": "Pneumonitis due to inhalation of food or vomitus",
    "51881": "Acute respiratory failure",
    "5990": "Urinary tract infection, site not specified",
    "5715": "Cirrhosis of liver without mention of alcohol",
    "5712": "Alcoholic cirrhosis of liver",
    "5723": "Portal hypertension",
    "4560": "Esophageal varices with bleeding",
    "30390": "Other and unspecified alcohol dependence, unspecified",
    "2875": "Thrombocytopenia, unspecified",
    "2859": "Anemia, unspecified",
    "2851": "Acute posthemorrhagic anemia",
    "2449": "Unspecified acquired hypothyroidism",
    "311": "Depressive disorder, not elsewhere classified",
    "30000": "Anxiety state, unspecified",
    "53081": "Esophageal reflux",
    "2761": "Hyposmolality and/or hyponatremia",
    "2762": "Acidosis",
    "2767": "Hyperpotassemia",
    "2768": "Hypopotassemia",
    "27651": "Dehydration",
    "27800": "Obesity, unspecified",
    "27801": "Morbid obesity",
    "32723": "Obstructive sleep apnea (adult) (pediatric)",
    "43491": "Cerebral artery occlusion, unspecified, with cerebral infarction",
    "34290": "Hemiplegia, unspecified, affecting unspecified side",
    "1970": "Secondary malignant neoplasm of lung",
    "1985": "Secondary malignant neoplasm of bone and bone marrow",
    "1983": "Secondary malignant neoplasm of brain and spinal cord",
    "1629": "Malignant neoplasm of bronchus and lung, unspecified",
    "V3000": "Single liveborn, born in hospital, delivered without mention of cesarean section",
    "V3001": "Single liveborn, born in hospital, delivered by cesarean section",
    "V053": "Need for prophylactic vaccination and inoculation against viral hepatitis",
    "V290": "Observation for suspected infectious condition",
    "7742": "Neonatal jaundice associated with preterm delivery",
    "76510": "Other preterm infants, unspecified weight",
    "7706": "Transitory tachypnea of newborn",
    "V502": "Routine or ritual circumcision",
    "E8859": "Fall from other slipping, tripping, or stumbling",
    "E8490": "Accidents occurring in home",
    "E8798": "Other specified procedures as the cause of abnormal reaction of patient",
    "E8788": "Other specified surgical operations as the cause of abnormal reaction of patient",
    "E9342": "Anticoagulants causing adverse effects in therapeutic use",
    "82021": "Closed fracture of intertrochanteric section of neck of femur",
    "85220": "Subdural hemorrhage following injury, unspecified state of consciousness",
    "4589": "Hypotension, unspecified",
    "5119": "Unspecified pleural effusion",
    "2749": "Gout, unspecified",
    "V4986": "Do not resuscitate status",
}

#: Meaning of the 3-digit categories (4 characters for E codes) of the modelled codes.
ICD9_CATEGORIES: dict[str, str] = {
    "401": "Essential hypertension", "403": "Hypertensive chronic kidney disease",
    "250": "Diabetes mellitus", "357": "Inflammatory and toxic neuropathy",
    "V58": "Other and unspecified aftercare (long-term drug use)", "585": "Chronic kidney disease",
    "V45": "Other postprocedural states (dialysis, bypass, angioplasty)",
    "584": "Acute kidney failure", "428": "Heart failure", "416": "Chronic pulmonary heart disease",
    "414": "Other chronic ischemic heart disease", "412": "Old myocardial infarction",
    "410": "Acute myocardial infarction", "411": "Other acute ischemic heart disease",
    "413": "Angina pectoris", "427": "Cardiac dysrhythmias", "272": "Disorders of lipoid metabolism",
    "496": "Chronic airway obstruction", "491": "Chronic bronchitis", "305": "Nondependent drug abuse (tobacco)",
    "V15": "Other personal history presenting hazards to health", "038": "Septicemia",
    "995": "Certain adverse effects (sepsis, SIRS)", "785": "Symptoms involving cardiovascular system (shock)",
    "486": "Pneumonia, organism unspecified", "507": "Pneumonitis due to solids and liquids",
    "518": "Other diseases of lung (respiratory failure)", "599": "Other disorders of urethra and urinary tract",
    "571": "Chronic liver disease and cirrhosis", "572": "Liver abscess and sequelae of chronic liver disease",
    "456": "Varicose veins of other sites", "303": "Alcohol dependence syndrome",
    "287": "Purpura and other hemorrhagic conditions", "285": "Other and unspecified anemias",
    "244": "Acquired hypothyroidism", "311": "Depressive disorder, not elsewhere classified",
    "300": "Anxiety, dissociative and somatoform disorders", "530": "Diseases of esophagus",
    "276": "Disorders of fluid, electrolyte, and acid-base balance", "278": "Overweight and obesity",
    "327": "Organic sleep disorders", "434": "Occlusion of cerebral arteries",
    "342": "Hemiplegia and hemiparesis", "197": "Secondary malignant neoplasm of respiratory and digestive systems",
    "198": "Secondary malignant neoplasm of other sites", "162": "Malignant neoplasm of trachea, bronchus, and lung",
    "V30": "Single liveborn", "V05": "Need for prophylactic vaccination (single diseases)",
    "V29": "Observation of newborns for suspected condition", "774": "Other perinatal jaundice",
    "765": "Disorders relating to short gestation and low birthweight", "770": "Other respiratory conditions of fetus and newborn",
    "V50": "Elective surgery for purposes other than remedying health states",
    "E885": "Fall on same level from slipping, tripping, or stumbling", "E849": "Place of occurrence",
    "E879": "Other procedures as the cause of abnormal reaction", "E878": "Surgical operation as the cause of abnormal reaction",
    "E934": "Agents primarily affecting blood constituents (adverse effect)",
    "820": "Fracture of neck of femur", "852": "Subarachnoid, subdural, and extradural hemorrhage following injury",
    "458": "Hypotension", "511": "Pleurisy (pleural effusion)", "274": "Gout", "V49": "Other conditions influencing health status",
}

_CODE_RE = re.compile(r"^(?:\d{3}(?:\.?\d{1,2})?|V\d{2}(?:\.?\d{1,2})?|E\d{3}(?:\.?\d)?)$")


def is_icd9(code: str) -> bool:
    """Whether ``code`` is a well-formed ICD-9-CM diagnosis code: ``ddd[dd]``, ``Vdd[dd]`` or
    ``Eddd[d]``, with or without the dot (MIMIC-III stores it without)."""
    return bool(_CODE_RE.match(code))


def icd9_group(code: str, grouping: str = "3digit") -> str:
    """The code as a matrix column: its 3-digit category (E codes: 4 characters) for
    ``grouping="3digit"``, or the whole code written with its dot for ``grouping="full"``."""
    code = code.replace(".", "")
    head = 4 if code.startswith("E") else 3
    if grouping == "3digit":
        return code[:head]
    if grouping == "full":
        return code[:head] + ("." + code[head:] if len(code) > head else "")
    raise ValueError(f"grouping must be '3digit' or 'full', got {grouping!r}")


def code_name(code: str) -> str:
    """Meaning of a full code or a category of the generator; a note for the simulated tail."""
    c = code.replace(".", "")
    return ICD9_NAMES.get(c) or ICD9_CATEGORIES.get(c) or "(long-tail code: meaning not simulated)"


def tail_codes(n: int, seed: int = 1234) -> list[str]:
    """``n`` well-formed ICD-9-CM codes of categories the generator does not model, in a fixed
    order of decreasing prevalence (the long tail). Mostly numeric, some V and E codes."""
    used = {icd9_group(c) for c in ICD9_NAMES}
    rng = np.random.default_rng(seed)
    cats = [f"{i:03d}" for i in range(1, 1000)] + [f"V{i:02d}" for i in range(1, 92)] + \
        [f"E{i:03d}" for i in range(800, 1000)]
    cats = [c for c in cats if c not in used]
    if n > len(cats):
        raise ValueError(f"at most {len(cats)} tail categories exist, asked for {n}")
    picked = rng.choice(len(cats), size=n, replace=False)
    out = []
    for i in picked:
        c = cats[i]
        if c.startswith("E"):
            out.append(c + str(rng.integers(0, 10)))
        elif rng.random() < 0.7:
            out.append(c + str(rng.integers(0, 10)))
        else:
            out.append(c)
    return out


# ---------------------------------------------------------------------------------------------
# Tables in MIMIC-III's format
# ---------------------------------------------------------------------------------------------
@dataclass
class Table:
    """A CSV table: column names and rows (lists of strings; ``None`` is an empty field).

    ``kinds`` says how each column is written: ``"int"`` and ``"time"`` bare, ``"str"`` quoted,
    as in the MIMIC-III files."""

    name: str
    columns: list[str]
    rows: list[list[str | None]] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)

    def col(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no column {name!r}; columns: {self.columns}") from None

    def column(self, name: str) -> list[str | None]:
        i = self.col(name)
        return [r[i] for r in self.rows]

    def head(self, n: int = 5) -> str:
        """The first rows as aligned text (for the notebook)."""
        rows = [[("" if v is None else str(v)) for v in r] for r in self.rows[:n]]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(self.columns)]
        fmt = lambda cells: "  ".join(str(x).ljust(w) for x, w in zip(cells, widths))  # noqa: E731
        return "\n".join([fmt(self.columns)] + [fmt(r) for r in rows])


PATIENT_COLUMNS = ["ROW_ID", "SUBJECT_ID", "GENDER", "DOB", "DOD", "DOD_HOSP", "DOD_SSN",
                   "EXPIRE_FLAG"]
IDENTIFIER_COLUMNS = ["NAME", "MRN", "ZIP", "PHONE"]  # in a hospital extract, not in MIMIC-III
ADMISSION_COLUMNS = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME", "DISCHTIME", "DEATHTIME",
                     "ADMISSION_TYPE", "ADMISSION_LOCATION", "DISCHARGE_LOCATION", "INSURANCE",
                     "LANGUAGE", "RELIGION", "MARITAL_STATUS", "ETHNICITY", "EDREGTIME",
                     "EDOUTTIME", "DIAGNOSIS", "HOSPITAL_EXPIRE_FLAG", "HAS_CHARTEVENTS_DATA"]
DIAGNOSIS_COLUMNS = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"]
TIME_COLUMNS = {"DOB", "DOD", "DOD_HOSP", "DOD_SSN", "ADMITTIME", "DISCHTIME", "DEATHTIME",
                "EDREGTIME", "EDOUTTIME"}
INT_COLUMNS = {"ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "EXPIRE_FLAG",
               "HOSPITAL_EXPIRE_FLAG", "HAS_CHARTEVENTS_DATA"}


def _kinds(columns: Sequence[str]) -> dict[str, str]:
    return {c: "time" if c in TIME_COLUMNS else "int" if c in INT_COLUMNS else "str" for c in columns}


def write_tables(tables: dict[str, Table], folder: str | Path) -> Path:
    """Write each table to ``folder/NAME.csv`` with MIMIC-III's quoting: a quoted header,
    strings quoted, numbers and times bare, nulls as empty fields."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t in tables.values():
        kinds = t.kinds or _kinds(t.columns)
        with open(folder / f"{t.name}.csv", "w", newline="") as f:
            f.write(",".join(f'"{c}"' for c in t.columns) + "\n")
            for r in t.rows:
                cells = []
                for c, v in zip(t.columns, r):
                    if v is None or v == "":
                        cells.append("")
                    elif kinds.get(c) == "str":
                        cells.append('"' + str(v).replace('"', '""') + '"')
                    else:
                        cells.append(str(v))
                f.write(",".join(cells) + "\n")
    return folder


def _open_table(folder: Path, name: str):
    for candidate in (folder / f"{name}.csv", folder / f"{name}.csv.gz"):
        if candidate.exists():
            if candidate.suffix == ".gz":
                return candidate, io.TextIOWrapper(gzip.open(candidate, "rb"), newline="")
            return candidate, open(candidate, newline="")
    raise FileNotFoundError(f"{folder}: no {name}.csv (or {name}.csv.gz); read_mimic3 needs "
                            "ADMISSIONS.csv and DIAGNOSES_ICD.csv from MIMIC-III")


def read_table(folder: str | Path, name: str, needed: Sequence[str] = ()) -> Table:
    """Read ``folder/NAME.csv[.gz]``. Raises ``FileNotFoundError`` when it is missing and
    ``ValueError`` (naming the file) when it is empty, lacks a column of ``needed``, or a row
    has the wrong number of fields."""
    path, f = _open_table(Path(folder), name)
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path}: the file is empty (expected a header row with {list(needed)})")
        header = [h.strip().upper() for h in header]
        missing = [c for c in needed if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; found {header}")
        rows = []
        for lineno, r in enumerate(reader, start=2):
            if not r:
                continue
            if len(r) != len(header):
                raise ValueError(f"{path}, line {lineno}: {len(r)} fields, expected {len(header)} "
                                 f"({', '.join(header)})")
            rows.append([v if v != "" else None for v in r])
    if not rows:
        raise ValueError(f"{path}: the table has a header but no rows")
    return Table(name, header, rows, _kinds(header))


def read_tables(folder: str | Path, names: Sequence[str] = ("PATIENTS", "ADMISSIONS", "DIAGNOSES_ICD")
                ) -> dict[str, Table]:
    return {n: read_table(folder, n) for n in names}


# ---------------------------------------------------------------------------------------------
# The synthetic cohort
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """A chronic condition (latent phenotype). Its log-odds: ``logit`` + ``per_decade`` x
    (age - 60) / 10 + ``male`` (for men) + ``given[c]`` for each condition c already present.
    ``codes``: (code, probability that an admission of a patient with it records the code)."""

    name: str
    logit: float
    per_decade: float
    male: float
    given: tuple[tuple[str, float], ...]
    codes: tuple[tuple[str, float], ...]


CONDITIONS: tuple[Condition, ...] = (
    Condition("obesity", -2.2, -0.1, 0.0, (), (("27800", 0.6), ("27801", 0.3))),
    Condition("diabetes", -1.6, 0.25, 0.2, (("obesity", 1.3),),
              (("25000", 0.75), ("V5867", 0.45), ("25060", 0.15), ("3572", 0.12))),
    Condition("hypertension", -0.6, 0.5, 0.1, (("diabetes", 1.1), ("obesity", 0.8)), (("4019", 0.92),)),
    Condition("hyperlipidemia", -1.2, 0.3, 0.2, (("diabetes", 0.9), ("hypertension", 0.6)),
              (("2724", 0.8), ("2720", 0.15), ("V5866", 0.25))),
    Condition("kidney", -3.0, 0.35, 0.2, (("diabetes", 1.5), ("hypertension", 1.2)),
              (("5859", 0.85), ("25040", 0.0), ("5856", 0.0), ("V4511", 0.0))),
    Condition("coronary", -1.9, 0.45, 0.7, (("diabetes", 0.7), ("hyperlipidemia", 0.9), ("hypertension", 0.5)),
              (("41401", 0.85), ("412", 0.3), ("V4581", 0.2), ("V4582", 0.2), ("4139", 0.1))),
    Condition("heart_failure", -2.6, 0.5, 0.1, (("coronary", 1.3), ("hypertension", 0.5), ("kidney", 0.8)),
              (("4280", 0.9), ("42832", 0.3), ("42822", 0.25), ("4168", 0.12))),
    Condition("atrial_fibrillation", -2.2, 0.7, 0.3, (("heart_failure", 1.1), ("hypertension", 0.3)),
              (("42731", 0.93), ("V5861", 0.45))),
    Condition("copd", -2.3, 0.35, 0.3, (), (("496", 0.7), ("49121", 0.2), ("3051", 0.4), ("V1582", 0.3))),
    Condition("liver", -3.0, -0.2, 0.6, (),
              (("5715", 0.45), ("5712", 0.45), ("30390", 0.4), ("5723", 0.35), ("2875", 0.4), ("4560", 0.1))),
    Condition("cancer", -2.4, 0.3, 0.2, (("copd", 0.8),),
              (("1970", 0.4), ("1985", 0.35), ("1983", 0.2), ("1629", 0.45))),
    Condition("stroke", -3.3, 0.5, 0.2, (("atrial_fibrillation", 1.2), ("hypertension", 0.6)),
              (("43491", 0.6), ("34290", 0.4))),
    Condition("hypothyroidism", -2.6, 0.3, -1.0, (), (("2449", 0.9),)),
    Condition("depression", -2.1, -0.1, -0.5, (("liver", 0.8),), (("311", 0.75), ("30000", 0.4))),
    Condition("reflux", -2.0, 0.2, 0.0, (("obesity", 0.5),), (("53081", 0.85),)),
    Condition("sleep_apnea", -4.0, 0.1, 0.6, (("obesity", 2.2),), (("32723", 0.85),)),
    Condition("gout", -3.6, 0.3, 0.8, (("kidney", 1.0), ("hypertension", 0.4)), (("2749", 0.8),)),
)
NEWBORN_CODES = (("V053", 0.75), ("V290", 0.55), ("7742", 0.25), ("76510", 0.2), ("7706", 0.15),
                 ("V502", 0.25))

_FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
          "Robin", "Drew", "Kai", "Noa", "Eli", "Mika", "Sasha", "Remy", "Lee", "Ari"]
_LAST = ["Synthia", "Fakename", "Placeholder", "Testpatient", "Noone", "Example", "Sample", "Mock",
         "Dummy", "Fiction", "Madeup", "Notreal"]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def make_extract(n_patients: int = 8000, seed: int = 0, n_tail: int = 300,
                 tail_rate: float = 2.7, tail_exponent: float = 1.1, tail_offset: float = 10.0,
                 newborn_fraction: float = 0.12) -> dict[str, Table]:
    """A SYNTHETIC hospital extract of ``n_patients`` patients: ``PATIENTS`` (with direct
    identifiers), ``ADMISSIONS`` and ``DIAGNOSES_ICD`` in MIMIC-III's columns.

    Each adult gets an age (some over 89) and a sex, chronic conditions drawn in the order of
    ``CONDITIONS`` (each one's odds raised by the comorbidities already present), one or more
    admissions (more for sicker patients), and per admission the codes of its conditions, acute
    events (sepsis, pneumonia, respiratory and kidney failure, electrolyte disorders...) whose
    odds depend on the conditions, and a Poisson number (mean ``tail_rate``) of long-tail codes
    drawn from a Zipf-Mandelbrot law (probability of the r-th code proportional to
    1 / (r + ``tail_offset``) ** ``tail_exponent``) over ``n_tail`` rare codes. Every admission
    records at least one code. A fraction
    ``newborn_fraction`` are newborns with the neonatal codes. Dates are real-looking calendar
    dates (2001-2012), which is what ``deidentify`` must shift.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be positive, got {n_patients}")
    rng = np.random.default_rng(seed)
    tail = tail_codes(n_tail)
    tail_p = 1.0 / (np.arange(1, n_tail + 1) + tail_offset) ** tail_exponent
    tail_p /= tail_p.sum()

    patients = Table("PATIENTS", PATIENT_COLUMNS + IDENTIFIER_COLUMNS)
    admissions = Table("ADMISSIONS", list(ADMISSION_COLUMNS))
    diagnoses = Table("DIAGNOSES_ICD", list(DIAGNOSIS_COLUMNS))
    hadm_next, diag_row = 100001, 1
    start = datetime(2001, 6, 1)
    for sid in range(1, n_patients + 1):
        newborn = rng.random() < newborn_fraction
        male = rng.random() < (0.52 if newborn else 0.56)
        if newborn:
            age = 0.0
        else:
            age = float(np.clip(rng.normal(64, 17), 18, 101))
            if rng.random() < 0.04:
                age = float(rng.uniform(89.5, 101))  # the oldest old, as in MIMIC-III
        has: dict[str, bool] = {}
        if not newborn:
            for c in CONDITIONS:
                z = c.logit + c.per_decade * (age - 60) / 10 + (c.male if male else 0.0)
                z += sum(w for name, w in c.given if has.get(name))
                has[c.name] = rng.random() < _sigmoid(z)
        n_chronic = sum(has.values())
        n_adm = 1 + (0 if newborn else rng.geometric(1 / (1.2 + 0.16 * n_chronic)) - 1)
        n_adm = int(min(n_adm, 20))
        esrd = has.get("kidney", False) and rng.random() < 0.25
        first = start + timedelta(days=float(rng.uniform(0, 11 * 365)), hours=float(rng.uniform(0, 24)))
        dob = first - timedelta(days=age * 365.25 + float(rng.uniform(0, 1)))
        when = first
        died = False
        for a in range(n_adm):
            hadm = hadm_next
            hadm_next += 1
            codes = _admission_codes(rng, has, newborn, male, age, esrd, tail, tail_p, tail_rate)
            stay = float(rng.gamma(2.0, 3.0)) if not newborn else float(rng.uniform(1, 4))
            dis = when + timedelta(days=stay)
            last = a == n_adm - 1
            dies = last and not newborn and rng.random() < (0.05 + 0.1 * ("99592" in codes or "78552" in codes))
            died = died or dies
            ed = not newborn and rng.random() < 0.6
            admissions.rows.append([
                str(len(admissions.rows) + 1), str(sid), str(hadm), when.strftime(TIME_FORMAT),
                dis.strftime(TIME_FORMAT), dis.strftime(TIME_FORMAT) if dies else None,
                "NEWBORN" if newborn else ("EMERGENCY" if ed else "ELECTIVE"),
                "PHYS REFERRAL/NORMAL DELI" if not ed else "EMERGENCY ROOM ADMIT",
                "DEAD/EXPIRED" if dies else "HOME", "Medicare" if age >= 65 else "Private",
                "ENGL", None, None if newborn else "MARRIED", "UNKNOWN/NOT SPECIFIED",
                (when - timedelta(hours=3)).strftime(TIME_FORMAT) if ed else None,
                when.strftime(TIME_FORMAT) if ed else None,
                "NEWBORN" if newborn else _chief_complaint(codes), "1" if dies else "0", "1"])
            for seq, code in enumerate(codes, start=1):
                diagnoses.rows.append([str(diag_row), str(sid), str(hadm), str(seq), code])
                diag_row += 1
            when = dis + timedelta(days=float(rng.exponential(240)))
        dod = admissions.rows[-1][4] if died else None
        patients.rows.append([
            str(sid), str(sid), "M" if male else "F", dob.strftime("%Y-%m-%d 00:00:00"),
            dod, dod, None, "1" if died else "0",
            f"{_FIRST[rng.integers(len(_FIRST))]} {_LAST[rng.integers(len(_LAST))]}",
            f"MRN{rng.integers(10**7, 10**8)}", f"{rng.integers(1000, 99999):05d}",
            f"555-01{rng.integers(0, 100):02d}"])
    for t in (patients, admissions, diagnoses):
        t.kinds = _kinds(t.columns)
    return {"PATIENTS": patients, "ADMISSIONS": admissions, "DIAGNOSES_ICD": diagnoses}


def _chief_complaint(codes: list[str]) -> str:
    for code, text in (("0389", "SEPSIS"), ("486", "PNEUMONIA"), ("41071", "CHEST PAIN"),
                       ("4280", "CONGESTIVE HEART FAILURE"), ("43491", "STROKE"),
                       ("82021", "HIP FRACTURE"), ("4560", "GI BLEED")):
        if code in codes:
            return text
    return "SHORTNESS OF BREATH" if "51881" in codes else "ELECTIVE ADMISSION"


def _admission_codes(rng, has, newborn, male, age, esrd, tail, tail_p, tail_rate) -> list[str]:
    """The codes of one admission: conditions, acute events, long tail (order = SEQ_NUM)."""
    codes: list[str] = []
    add = lambda c, p=1.0: codes.append(c) if c not in codes and rng.random() < p else None  # noqa: E731
    if newborn:
        add("V3001" if rng.random() < 0.35 else "V3000")
        for c, p in NEWBORN_CODES:
            if c != "V502" or male:
                add(c, p)
    else:
        # acute events first (they are the principal diagnoses)
        dec = (age - 60) / 10
        sepsis = rng.random() < _sigmoid(-2.4 + 0.15 * dec + 1.0 * has["liver"] + 0.6 * has["kidney"]
                                         + 0.6 * has["cancer"] + 0.4 * has["diabetes"])
        pneumonia = rng.random() < _sigmoid(-2.4 + 0.2 * dec + 1.3 * has["copd"] + 0.5 * has["stroke"])
        mi = has["coronary"] and rng.random() < 0.25
        fall = rng.random() < _sigmoid(-3.6 + 0.5 * dec)
        if sepsis:
            add("0389")
            add("99591", 0.5)
            if rng.random() < 0.45:
                add("99592")
                add("78552", 0.6)
        if pneumonia:
            add("486")
            add("5070", 0.2)
        if mi:
            add("41071", 0.7)
            add("4111", 0.3)
        if fall:
            add("82021", 0.6)
            add("85220", 0.3)
            add("E8859", 0.8)
            add("E8490", 0.7)
        resp = rng.random() < _sigmoid(-3.2 + 2.0 * sepsis + 1.6 * pneumonia + 0.9 * has["heart_failure"]
                                       + 0.8 * has["copd"])
        if resp:
            add("51881")
        aki = rng.random() < _sigmoid(-3.0 + 1.8 * sepsis + 1.3 * has["kidney"] + 0.7 * has["heart_failure"])
        if aki:
            add("5849", 0.8)
            add("5845", 0.25)
        # chronic conditions
        for c in CONDITIONS:
            if not has[c.name]:
                continue
            for code, p in c.codes:
                if code == "4019" and has["kidney"]:
                    add("40391" if esrd else "40390", 0.9)  # hypertension + CKD: the combined code
                elif c.name == "kidney" and code in ("5856", "V4511"):
                    if esrd:
                        add(code, 0.85)
                elif code == "5859" and esrd:
                    continue
                elif code == "25040":
                    if has["diabetes"]:
                        add(code, 0.5)
                else:
                    add(code, p)
        # common secondary problems
        add("2761", _sigmoid(-2.6 + 0.9 * sepsis + 0.8 * has["liver"] + 0.6 * has["heart_failure"]))
        add("2762", _sigmoid(-3.0 + 1.5 * sepsis + 1.2 * aki))
        add("2767", _sigmoid(-3.4 + 1.3 * aki + 0.8 * has["kidney"]))
        add("2768", _sigmoid(-3.0 + 0.5 * sepsis))
        add("27651", _sigmoid(-3.2 + 0.8 * aki + 0.3 * dec))
        add("2859", _sigmoid(-2.2 + 0.8 * has["kidney"] + 0.6 * has["cancer"]))
        add("2851", _sigmoid(-3.2 + 1.5 * fall + 1.5 * ("4560" in codes)))
        add("5990", _sigmoid(-2.8 + (0.0 if male else 0.8) + 0.2 * dec))
        add("4589", _sigmoid(-3.4 + 1.5 * sepsis))
        add("5119", _sigmoid(-3.4 + 1.2 * has["heart_failure"] + 1.2 * has["cancer"] + 0.8 * pneumonia))
        add("E9342", 0.15 if has["atrial_fibrillation"] else 0.0)
        add("E8798", _sigmoid(-3.8))
        add("E8788", _sigmoid(-3.8 + 0.8 * has["coronary"]))
        add("V4986", _sigmoid(-4.0 + 0.8 * max(dec, 0) + 1.5 * has["cancer"]))
    # the long tail
    for i in rng.choice(len(tail), size=rng.poisson(tail_rate * (0.4 if newborn else 1.0)), p=tail_p):
        add(tail[i])
    while not codes:  # every admission has at least one diagnosis
        add(tail[rng.choice(len(tail), p=tail_p)])
    return codes[:39]  # MIMIC-III records at most 39 diagnoses per admission


# ---------------------------------------------------------------------------------------------
# De-identification (HIPAA Safe Harbor, the steps that concern these tables)
# ---------------------------------------------------------------------------------------------
def _parse_time(value: str, where: str) -> datetime:
    try:
        return datetime.strptime(value, TIME_FORMAT)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a time of the form YYYY-MM-DD HH:MM:SS") from None


def deidentify(tables: dict[str, Table], seed: int = 0, min_shift_years: int = 100,
               max_shift_years: int = 200) -> dict[str, Table]:
    """Safe Harbor de-identification of ``PATIENTS``, ``ADMISSIONS`` and ``DIAGNOSES_ICD``.

    1. Direct identifiers removed: every column of ``IDENTIFIER_COLUMNS`` (name, record number,
       ZIP code, phone) is dropped.
    2. Keys re-drawn: ``SUBJECT_ID`` and ``HADM_ID`` are replaced by random ids from a range
       disjoint from the old ones (the same mapping in every table); ``ROW_ID`` is renumbered.
    3. Dates shifted: every time of a patient moves by one random whole number of days
       (``min_shift_years``-``max_shift_years`` years into the future, as MIMIC-III did), so
       intervals within a patient survive and calendar dates do not.
    4. Ages over 89 grouped: for a patient older than 89 at any admission the date of birth is
       moved so the age at the first admission reads 300 years (MIMIC-III's convention for "90
       or older").
    Returns new tables; the input is left unchanged. Raises ``ValueError`` on a missing table,
    column, unknown patient or unreadable time, naming the table and row.
    """
    for name in ("PATIENTS", "ADMISSIONS", "DIAGNOSES_ICD"):
        if name not in tables:
            raise ValueError(f"deidentify needs the table {name}; got {sorted(tables)}")
    P, A, D = tables["PATIENTS"], tables["ADMISSIONS"], tables["DIAGNOSES_ICD"]
    rng = np.random.default_rng(seed)
    sids = P.column("SUBJECT_ID")
    if len(set(sids)) != len(sids):
        raise ValueError("PATIENTS: SUBJECT_ID is not unique")
    hadms = A.column("HADM_ID")
    top_s = max(int(s) for s in sids)
    top_h = max(int(h) for h in hadms) if hadms else 0
    new_sid = dict(zip(sids, (str(top_s + 1 + i) for i in rng.permutation(len(sids)))))
    new_hadm = dict(zip(hadms, (str(top_h + 1 + i) for i in rng.permutation(len(hadms)))))
    shift = {s: timedelta(days=int(rng.integers(min_shift_years * 365, max_shift_years * 365 + 1)))
             for s in sids}

    # ages: the oldest age reached at any admission
    first_adm: dict[str, datetime] = {}
    last_adm: dict[str, datetime] = {}
    ia, ias = A.col("ADMITTIME"), A.col("SUBJECT_ID")
    for k, r in enumerate(A.rows, start=1):
        s = r[ias]
        if s not in shift:
            raise ValueError(f"ADMISSIONS row {k}: SUBJECT_ID {s} is not in PATIENTS")
        t = _parse_time(r[ia], f"ADMISSIONS row {k}, ADMITTIME")
        first_adm[s] = min(first_adm.get(s, t), t)
        last_adm[s] = max(last_adm.get(s, t), t)

    def shifted(value, s, where):
        return None if value is None else (_parse_time(value, where) + shift[s]).strftime(TIME_FORMAT)

    keep = [c for c in P.columns if c not in IDENTIFIER_COLUMNS]
    out_P = Table("PATIENTS", keep)
    for k, r in enumerate(P.rows, start=1):
        row = dict(zip(P.columns, r))
        s = row["SUBJECT_ID"]
        dob = _parse_time(row["DOB"], f"PATIENTS row {k}, DOB")
        if s in last_adm and (last_adm[s] - dob).days / 365.25 > 89:
            dob = first_adm[s] - timedelta(days=round(300 * 365.25))
        row["DOB"] = (dob + shift[s]).strftime(TIME_FORMAT)
        for c in ("DOD", "DOD_HOSP", "DOD_SSN"):
            if c in row:
                row[c] = shifted(row[c], s, f"PATIENTS row {k}, {c}")
        row["SUBJECT_ID"] = new_sid[s]
        row["ROW_ID"] = str(k)
        out_P.rows.append([row[c] for c in keep])

    out_A = Table("ADMISSIONS", list(A.columns))
    for k, r in enumerate(A.rows, start=1):
        row = dict(zip(A.columns, r))
        s = row["SUBJECT_ID"]
        for c in A.columns:
            if c in TIME_COLUMNS:
                row[c] = shifted(row[c], s, f"ADMISSIONS row {k}, {c}")
        row["SUBJECT_ID"], row["HADM_ID"], row["ROW_ID"] = new_sid[s], new_hadm[row["HADM_ID"]], str(k)
        out_A.rows.append([row[c] for c in A.columns])

    out_D = Table("DIAGNOSES_ICD", list(D.columns))
    for k, r in enumerate(D.rows, start=1):
        row = dict(zip(D.columns, r))
        if row["HADM_ID"] not in new_hadm:
            raise ValueError(f"DIAGNOSES_ICD row {k}: HADM_ID {row['HADM_ID']} is not in ADMISSIONS")
        row["SUBJECT_ID"], row["HADM_ID"], row["ROW_ID"] = \
            new_sid[row["SUBJECT_ID"]], new_hadm[row["HADM_ID"]], str(k)
        out_D.rows.append([row[c] for c in D.columns])
    for t in (out_P, out_A, out_D):
        t.kinds = _kinds(t.columns)
    return {"PATIENTS": out_P, "ADMISSIONS": out_A, "DIAGNOSES_ICD": out_D}


# ---------------------------------------------------------------------------------------------
# The reader (process_mimic.py semantics)
# ---------------------------------------------------------------------------------------------
class EHR(NamedTuple):
    """``matrix``: patients x codes (float32, 0/1 or counts); ``codes``: the column names, most
    frequent first; ``patient_ids``: SUBJECT_ID of each row."""

    matrix: np.ndarray
    codes: list[str]
    patient_ids: np.ndarray


class MimicWarning(UserWarning):
    """Rows ``read_mimic3`` could not use (counted and named, never dropped silently)."""


def _int_field(value, path, lineno, column):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}, line {lineno}, {column}: {value!r} is not an integer id") from None


def read_mimic3(folder: str | Path, grouping: str = "3digit", binary: bool = True,
                strict: bool = False) -> EHR:
    """The patient x diagnosis-code matrix of a MIMIC-III folder, as medGAN's ``process_mimic.py``
    builds it: every diagnosis of every admission of a patient counts for that patient; codes are
    grouped to 3 digits (E codes to 4 characters) with ``grouping="3digit"`` or kept whole with
    ``"full"``; ``binary=True`` marks presence, ``False`` counts occurrences.

    Reads ``ADMISSIONS.csv`` (SUBJECT_ID, HADM_ID, ADMITTIME) and ``DIAGNOSES_ICD.csv`` (HADM_ID,
    ICD9_CODE; other columns are ignored), plain or gzipped. Errors (``ValueError``/``FileNotFoundError``, naming file,
    line and field): a missing file or column, an empty table, a malformed id, time or code, a
    repeated HADM_ID. Counted warnings (``MimicWarning``, with the first lines; errors when
    ``strict=True``): a diagnosis row with an empty code (real MIMIC-III has a few), a diagnosis
    whose admission is not in ADMISSIONS, an admission without diagnoses; a patient left with no
    code at all is not a row of the matrix. Columns are ordered by decreasing frequency.
    """
    if grouping not in ("3digit", "full"):
        raise ValueError(f"grouping must be '3digit' or 'full', got {grouping!r}")
    folder = Path(folder)
    adm = read_table(folder, "ADMISSIONS", ("SUBJECT_ID", "HADM_ID", "ADMITTIME"))
    apath = next(p for p in (folder / "ADMISSIONS.csv", folder / "ADMISSIONS.csv.gz") if p.exists())
    dia = read_table(folder, "DIAGNOSES_ICD", ("HADM_ID", "ICD9_CODE"))
    dpath = next(p for p in (folder / "DIAGNOSES_ICD.csv", folder / "DIAGNOSES_ICD.csv.gz") if p.exists())

    problems: dict[str, list[int]] = {}

    def problem(kind: str, lineno: int) -> None:
        problems.setdefault(kind, []).append(lineno)

    hadm_patient: dict[int, int] = {}
    hadm_line: dict[int, int] = {}
    isub, ihadm, itime = adm.col("SUBJECT_ID"), adm.col("HADM_ID"), adm.col("ADMITTIME")
    for lineno, r in enumerate(adm.rows, start=2):
        pid = _int_field(r[isub], apath, lineno, "SUBJECT_ID")
        hid = _int_field(r[ihadm], apath, lineno, "HADM_ID")
        if r[itime] is None:
            raise ValueError(f"{apath}, line {lineno}, ADMITTIME: empty, expected YYYY-MM-DD HH:MM:SS")
        _parse_time(r[itime], f"{apath}, line {lineno}, ADMITTIME")
        if hid in hadm_patient:
            raise ValueError(f"{apath}, line {lineno}, HADM_ID: {hid} repeats line {hadm_line[hid]}")
        hadm_patient[hid], hadm_line[hid] = pid, lineno

    codes_of: dict[int, list[str]] = {}
    ih, ic = dia.col("HADM_ID"), dia.col("ICD9_CODE")
    seen_hadm = set()
    for lineno, r in enumerate(dia.rows, start=2):
        hid = _int_field(r[ih], dpath, lineno, "HADM_ID")
        code = r[ic]
        if code is None or not code.strip():
            problem(f"{dpath.name}: empty ICD9_CODE", lineno)
            continue
        code = code.strip().upper()
        if not is_icd9(code):
            raise ValueError(f"{dpath}, line {lineno}, ICD9_CODE: {code!r} is not an ICD-9-CM code "
                             "(expected ddd[dd], Vdd[dd] or Eddd[d], e.g. 4019, V4581, E8788)")
        if hid not in hadm_patient:
            problem(f"{dpath.name}: HADM_ID not in ADMISSIONS", lineno)
            continue
        seen_hadm.add(hid)
        codes_of.setdefault(hadm_patient[hid], []).append(icd9_group(code, grouping))
    for hid, lineno in hadm_line.items():
        if hid not in seen_hadm:
            problem(f"{apath.name}: admission without diagnoses", lineno)
    patients_all = sorted(set(hadm_patient.values()))
    for pid in patients_all:
        if pid not in codes_of:
            problem(f"{apath.name}: patient without any code (SUBJECT_ID, not a matrix row)", pid)
    if problems:
        lines = "; ".join(f"{k}: {len(v)} (first: {v[:5]})" for k, v in problems.items())
        msg = f"read_mimic3({folder}): rows not used -- {lines}"
        if strict:
            raise ValueError(msg)
        warnings.warn(msg, MimicWarning, stacklevel=2)
    if not codes_of:
        raise ValueError(f"{folder}: no diagnosis could be matched to an admission")

    pids = np.array(sorted(codes_of), dtype=np.int64)
    counts: dict[str, int] = {}
    for pid in pids:
        for c in set(codes_of[pid]):
            counts[c] = counts.get(c, 0) + 1
    codes = sorted(counts, key=lambda c: (-counts[c], c))
    col = {c: j for j, c in enumerate(codes)}
    matrix = np.zeros((len(pids), len(codes)), dtype=np.float32)
    for i, pid in enumerate(pids):
        for c in codes_of[pid]:
            if binary:
                matrix[i, col[c]] = 1.0
            else:
                matrix[i, col[c]] += 1.0
    return EHR(matrix, codes, pids)


def synthetic_mimic3(folder: str | Path, n_patients: int = 8000, seed: int = 0, **kw) -> Path:
    """Generate a SYNTHETIC extract, de-identify it and write it to ``folder`` in MIMIC-III format
    (``PATIENTS.csv``, ``ADMISSIONS.csv``, ``DIAGNOSES_ICD.csv``). Returns the folder."""
    return write_tables(deidentify(make_extract(n_patients, seed, **kw), seed=seed + 1), folder)
