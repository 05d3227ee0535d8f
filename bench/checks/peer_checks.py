#!/usr/bin/python3
"""The pandas peer of StudentDataQuality's staged quality checks (bench/README.md).

What a data analyst would write to check a registry export with pandas: read the CSV with dtype=str (so that
leading zeros and 18-digit ID numbers survive), then vectorised column operations, no per-row Python loops.
It runs the row-level checks, the duplicate checks, the school-master checks and the cross-round comparisons
with the same meaning as the project's rules (sql/rules/*.sql, docs/synthetic-province.md), and prints one JSON
object on stdout: its own timings (read, row_level, duplicates, school_master, cross_round, total, in seconds),
the number of failing rows per check (per rule id; S01 and F08 count one per failing field, like the rules'
findings), the peak resident set, and the pandas version.

    /usr/bin/python3 bench/checks/peer_checks.py --students export/students.csv --schools export/schools.csv \
        --previous previous/students.csv --reference reference.json --round-date 2026-10-15 \
        --previous-round-date 2026-04-15

reference.json holds the code lists and the six-digit region codes the project ships (the benchmark writes it
from StudentDataQuality.Core): {"code_lists": {"gender": [[code, name_zh, name_en], ...], ...}, "regions": [...]}.

Where nearly every value is right as written (codes, identifiers, region codes, phone numbers), it is matched as
written first (isin, map, one regex) and only the rest is trimmed, folded and matched again; resident ID check
characters and birth segments are computed with numpy over the digits. Reading takes most of the time: pandas 1.5
with dtype=str makes one Python string per cell.

Not done here (the project's run does them): S02 (control characters, lengths), S04 (formula-like values), F05, F07,
C03-C10, X05, A01-A03, and the storing of findings with their details. Values are not set aside after a failure the way the staged
runner does it, except where a later check needs a parsed value (it then uses only values that parsed and passed
their own format check). On the generated province that gives the ground truth's counts, but for F10: a name
with unreadable characters (U+FFFD) is S02 for the staged rules and a bad name here.
"""
import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd

WHITE = " \t\r\n\u3000\u00a0"
# Full-width ASCII (U+FF01-U+FF5E) to half-width, the ideographic space to a space.
FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
FULL_WIDTH[0x3000] = 0x20

STUDENT_HEADERS = {
    "全国学籍号": "student_no", "学籍号": "student_no", "学校标识码": "school_code", "学校名称": "school_name",
    "姓名": "name", "性别": "gender", "出生日期": "birth_date", "出生地": "birthplace", "国籍/地区": "nationality",
    "国籍": "nationality", "民族": "ethnicity", "身份证件类型": "id_type", "身份证件号": "id_number",
    "身份证号": "id_number", "港澳台侨外": "hmt_status", "户口所在地": "household_region", "户口性质": "household_type",
    "年级": "grade", "班级": "class_name", "入学年月": "entry_month", "就读方式": "study_mode",
    "是否独生子女": "only_child", "是否进城务工人员随迁子女": "migrant_child", "留守儿童": "left_behind",
    "残疾类型": "disability", "监护人姓名": "guardian_name", "监护人关系": "guardian_relation",
    "监护人联系电话": "guardian_phone", "监护人身份证件号": "guardian_id_number", "家庭住址": "address",
}
SCHOOL_HEADERS = {"学校标识码": "school_code", "学校名称": "school_name", "所在区县代码": "district_code",
                  "所在区县": "district_name", "最低年级": "min_grade", "最高年级": "max_grade", "是否开办": "is_open"}

REQUIRED = ["student_no", "school_code", "name", "gender", "birth_date", "birthplace", "nationality", "ethnicity",
            "id_type", "id_number", "hmt_status", "household_region", "grade", "class_name", "entry_month",
            "study_mode", "migrant_child", "left_behind", "guardian_name", "guardian_relation", "guardian_phone",
            "address"]
# Coded fields and their code list (reference.json); grade and the two regions are checked on their own.
CODED = {"gender": "gender", "nationality": "nationality", "ethnicity": "ethnicity", "id_type": "id_type",
         "hmt_status": "hmt_status", "household_type": "household_type", "study_mode": "study_mode",
         "only_child": "yes_no", "migrant_child": "yes_no", "left_behind": "left_behind",
         "disability": "disability", "guardian_relation": "guardian_relation"}
# The words registrars type besides codes and names (copied from StudentDataQuality.Core CodeLists.cs).
ALIASES = {
    "gender": {"男性": "1", "女性": "2", "M": "1", "F": "2"},
    "id_type": {"身份证": "1", "其他": "Z"},
    "hmt_status": {"无": "0", "非港澳台侨外": "0"},
    "household_type": {"农业": "1", "非农业": "2"},
    "study_mode": {"寄宿": "2"},
    "yes_no": {"N": "0", "Y": "1"},
    "left_behind": {"否": "0"},
    "disability": {"无": "0"},
    "guardian_relation": {"父": "1", "母": "2", "祖父母": "3", "外祖父母": "3"},
    "nationality": {"中国": "CHN", "中华人民共和国": "CHN"},
}
NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
GRADES = {**{str(g): g for g in range(1, 13)}, **{f"0{g}": g for g in range(1, 10)},
          **{f"{NUMERALS[g - 1]}年级": g for g in range(1, 13)}, **{f"{g}年级": g for g in range(1, 13)},
          **{f"初{NUMERALS[i]}": 7 + i for i in range(3)}, **{f"高{NUMERALS[i]}": 10 + i for i in range(3)},
          **{f"初中{NUMERALS[i]}年级": 7 + i for i in range(3)}, **{f"高中{NUMERALS[i]}年级": 10 + i for i in range(3)}}

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
OTHER_ID = {"6": r"H[0-9]{8}(?:[0-9]{2})?", "7": r"M[0-9]{8}(?:[0-9]{2})?", "8": r"[0-9]{8}(?:[0-9]{2})?",
            "9": r"[A-Z]{3}[0-9]{12}"}
NAME = r"(?=.{2,30}\Z)(?:[\u3400-\u4dbf\u4e00-\u9fff]+(?:·[\u3400-\u4dbf\u4e00-\u9fff]+)*|[A-Za-z]+(?:·[A-Za-z]+)*)"
MOBILE_OR_LANDLINE = r"(?:1[3-9][0-9]{9}|0[0-9]{2,3}[2-9][0-9]{6,7})"
PROVINCE = "23"
# The columns the checks read (not school_name, guardian_id_number); of the previous round, the cross-round ones.
CURRENT_COLUMNS = REQUIRED + ["household_type", "only_child", "disability"]
PREVIOUS_COLUMNS = ["student_no", "school_code", "gender", "birth_date", "id_type", "id_number", "grade"]


def read(path, headers, usecols=None):
    """A registry export as text (dtype=str keeps leading zeros; empty cells stay empty strings), English headers."""
    def english(header):
        return headers.get(header.strip().rstrip("*★").strip(), header.strip())

    frame = pd.read_csv(path, dtype=str, na_filter=False, encoding="utf-8-sig",
                        usecols=None if usecols is None else (lambda header: english(header) in usecols))
    frame.columns = [english(c) for c in frame.columns]
    return frame


def trimmed(s):
    return s.str.strip(WHITE)


def identifier(s):
    """Trimmed, full-width folded, upper case (the normal form of identifiers)."""
    return s.str.translate(FULL_WIDTH).str.strip(WHITE).str.upper()


def normalised(raw, pattern):
    """An identifier in normal form and whether it has the pattern. Nearly every value has it as written; only the
    others are trimmed, folded and upper-cased (and tested again)."""
    ok = raw.str.fullmatch(pattern).astype(bool)
    value = raw.copy()
    rest = ~ok
    if rest.any():
        fixed = identifier(raw[rest])
        value[rest] = fixed
        ok[rest] = fixed.str.fullmatch(pattern).to_numpy(dtype=bool)
    return value, ok


def blank(raw, known=None):
    """Empty or white space only. Values known to be good (they matched a code list or a pattern) are not looked at."""
    if known is None:
        return trimmed(raw) == ""
    result = pd.Series(False, index=raw.index)
    rest = ~known
    if rest.any():
        result[rest] = (trimmed(raw[rest]) == "").to_numpy()
    return result


def lookup_table(entries, aliases):
    table = {}
    for code, name_zh, name_en in entries:
        table.setdefault(name_zh.upper(), code)
        table.setdefault(name_en.upper(), code)
    for alias, code in aliases.items():
        table[alias.upper()] = code
    for code, _, _ in entries:
        table[code.upper()] = code
    return table


def match_codes(raw, table):
    """The code of each value (NaN when not in the list): exact first, then trimmed, folded, case-insensitive."""
    codes = raw.map(table)
    miss = raw[codes.isna()]
    miss = miss[miss != ""]
    if len(miss):
        codes[miss.index] = identifier(miss).map(table)
    return codes


def parse_dates(raw):
    """YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日 to datetime (NaT when not a real date)."""
    dates = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    miss = dates.isna()
    miss[miss] = (raw[miss] != "").to_numpy()
    if miss.any():
        s = trimmed(raw[miss].str.translate(FULL_WIDTH))
        compact = s.str.fullmatch(r"[0-9]{8}")
        dashed = s.str.replace(r"[/.年月]", "-", regex=True).str.rstrip("日")
        dashed = dashed.where(dashed.str.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"), "")
        dates[miss] = pd.to_datetime(s.where(compact, ""), format="%Y%m%d", errors="coerce").fillna(
            pd.to_datetime(dashed, format="%Y-%m-%d", errors="coerce"))
    return dates


def parse_grades(raw):
    grades = raw.map(GRADES)
    miss = raw[grades.isna()]
    miss = miss[miss != ""]
    if len(miss):
        grades[miss.index] = trimmed(miss.str.translate(FULL_WIDTH)).map(GRADES)
    return grades


def resident_id_facts(ids, shape):
    """Check character, birth segment, sequence parity and 000 padding of resident ID numbers of the right shape,
    vectorised with numpy over the digits."""
    check_ok = pd.Series(False, index=ids.index)
    padded = pd.Series(False, index=ids.index)
    birth = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    gender = pd.Series(np.nan, index=ids.index, dtype=object)
    shaped = ids[shape]
    if len(shaped):
        digits = np.frombuffer("".join(shaped.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        d = digits.astype(np.int64) - 48
        check_ok[shape] = ID_CHECK[(d[:, :17] @ ID_WEIGHTS) % 11] == digits[:, 17]
        padded[shape] = (digits[:, 15:18] == ord("0")).all(axis=1)
        year = d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9]
        month = d[:, 10] * 10 + d[:, 11]
        day = d[:, 12] * 10 + d[:, 13]
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        real = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
        real &= day <= DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
        # Years pandas can hold (1678-2261); a birth segment outside them is not a student's anyway.
        real &= (year > 1677) & (year < 2262)
        dates = ((year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)).astype("datetime64[D]") + (day - 1)
        birth[shape] = np.where(real, dates.astype("datetime64[ns]"), np.datetime64("NaT"))
        gender[shape] = np.where(d[:, 16] % 2 == 1, "1", "2")
    return check_ok, padded, birth, gender


def other_id_ok(ids, id_types):
    ok = pd.Series(False, index=ids.index)
    for code, pattern in OTHER_ID.items():
        mask = id_types == code
        if mask.any():
            ok[mask] = ids[mask].str.fullmatch(pattern).to_numpy(dtype=bool)
    mask = id_types == "A"
    if mask.any():
        ok[mask] = (ids[mask].str.fullmatch(r"[A-Z0-9]{5,17}") & ids[mask].str.contains(r"[0-9]")).to_numpy(dtype=bool)
    return ok


def phone_digits(raw):
    """Digits of a phone number once spaces, hyphens, brackets and + are removed; NaN when anything else is there."""
    folded = raw.str.translate(FULL_WIDTH)
    cleaned = folded.str.replace(r"[ \-()+]", "", regex=True)
    digits = cleaned.where(cleaned.str.fullmatch(r"[0-9]+").astype(bool))
    country = digits.str.fullmatch(r"86[0-9]{11}").fillna(False).astype(bool)
    digits[country] = digits[country].str[2:]
    return digits


def school_year(date):
    return date.year if date.month >= 9 else date.year - 1


def key_and_identity(df, reference, round_date):
    """The values the cross-record and cross-round checks compare, parsed and validated as the format checks do."""
    student_no, student_no_ok = normalised(df["student_no"], r"[GLJ][0-9A-Z]{18}")
    school_code, school_code_ok = normalised(df["school_code"], r"[0-9]{2}" + PROVINCE + r"[0-9]{6}")
    id_type = match_codes(df["id_type"], reference["tables"]["id_type"])
    id_number, id_shape = normalised(df["id_number"], r"[0-9]{17}[0-9X]")
    resident = (id_type == "1") & (id_number != "")
    shape = resident & id_shape
    check_ok, padded, id_birth, id_gender = resident_id_facts(id_number, shape)
    other = (id_number != "") & id_type.isin(["6", "7", "8", "9", "A"])
    other_ok = other_id_ok(id_number, id_type)
    birth_date = parse_dates(df["birth_date"])
    birth_ok = birth_date.between(round_date - pd.DateOffset(years=25), round_date - pd.DateOffset(years=3))
    resident_ok = shape & check_ok & id_birth.notna()
    return {
        "student_no": student_no, "school_code": school_code, "student_no_ok": student_no_ok,
        "school_code_ok": school_code_ok, "id_type": id_type, "id_number": id_number, "id_shape": id_shape,
        "resident": resident, "shape": shape, "check_ok": check_ok, "padded": padded, "id_birth": id_birth,
        "id_gender": id_gender, "other": other, "other_ok": other_ok, "resident_ok": resident_ok,
        "id_ok": resident_ok | (other & other_ok), "birth_date": birth_date, "birth_ok": birth_ok,
        "gender": match_codes(df["gender"], reference["tables"]["gender"]),
        "grade": parse_grades(df["grade"]),
    }


def compared(k):
    """What the later checks see: the parsed values that passed their format checks."""
    return pd.DataFrame({
        "student_no": k["student_no"], "school_code": k["school_code"], "student_no_ok": k["student_no_ok"],
        "school_code_ok": k["school_code_ok"], "id_number": k["id_number"], "resident_ok": k["resident_ok"],
        "id_ok": k["id_ok"], "birth_date": k["birth_date"].where(k["birth_ok"]), "gender": k["gender"],
        "grade": k["grade"]})


def check_round(df, reference, round_date, counts):
    """Row-level checks (S01, F01-F04, F06, F08-F12, C01, C02). Returns the values the later checks compare."""
    k = key_and_identity(df, reference, round_date)
    codes = {f: k[f] if f in ("id_type", "gender") else match_codes(df[f], reference["tables"][lst]) for f, lst in CODED.items()}
    regions = {}
    for f in ("birthplace", "household_region"):
        regions[f] = df[f].isin(reference["regions"])
        rest = ~regions[f]
        if rest.any():
            regions[f][rest] = trimmed(df.loc[rest, f].str.translate(FULL_WIDTH)).isin(reference["regions"]).to_numpy()
    names = {f: trimmed(df[f]) for f in ("name", "guardian_name")}
    phone_raw_ok = df["guardian_phone"].str.fullmatch(MOBILE_OR_LANDLINE).astype(bool)

    # Empty or white space only; a value that matched its code list or pattern is not.
    known = {**{f: codes[f].notna() for f in CODED}, **regions, "student_no": k["student_no_ok"],
             "school_code": k["school_code_ok"], "id_number": k["id_shape"], "birth_date": k["birth_date"].notna(),
             "grade": k["grade"].notna(), "guardian_phone": phone_raw_ok}
    empty = {f: blank(df[f], known.get(f)) for f in REQUIRED + ["household_type", "only_child", "disability"]
             if f not in names}
    empty.update({f: names[f] == "" for f in names})

    # S01: a required field empty or white space only; the ID number may be empty when the ID type is Z.
    s01 = sum(int(empty[f].sum()) for f in REQUIRED if f != "id_number")
    counts["S01"] = s01 + int((empty["id_number"] & (k["id_type"] != "Z")).sum())

    # F01 student number, F09 school code (10 digits, digits 3-4 the province).
    counts["F01"] = int((~empty["student_no"] & ~k["student_no_ok"]).sum())
    counts["F09"] = int((~empty["school_code"] & ~k["school_code_ok"]).sum())

    # F02 shape by ID type, F03 check character, F04 birth segment, F12 spreadsheet-mangled.
    resident, shape, check_ok, padded = k["resident"], k["shape"], k["check_ok"], k["padded"]
    unshaped = resident & ~shape
    scientific = pd.Series(False, index=df.index)
    if unshaped.any():
        scientific[unshaped] = k["id_number"][unshaped].str.fullmatch(r"[0-9](?:\.[0-9]+)?E\+?[0-9]{1,2}").to_numpy(dtype=bool)
    counts["F02"] = int((unshaped & ~scientific).sum() + (k["other"] & ~k["other_ok"]).sum())
    counts["F03"] = int((shape & ~check_ok & ~padded).sum())
    counts["F04"] = int((shape & k["id_birth"].isna() & (~padded | check_ok)).sum())
    counts["F12"] = int((scientific | (padded & ~check_ok)).sum())

    # F06 birth date: a real date within 3-25 years before the round date.
    counts["F06"] = int((~empty["birth_date"] & ~k["birth_ok"]).sum())

    # F08 code lists (one finding per field); grade 1-12 or a grade word; regions six-digit codes of a current region.
    f08 = sum(int((codes[f].isna() & ~empty[f]).sum()) for f in CODED)
    f08 += int((k["grade"].isna() & ~empty["grade"]).sum())
    f08 += sum(int((~regions[f] & ~empty[f]).sum()) for f in regions)
    counts["F08"] = f08

    # F10 names: 2-30 CJK ideographs, or Latin letters, parts joined by a single ·.
    name_ok = {f: names[f].str.fullmatch(NAME).astype(bool) for f in names}
    counts["F10"] = sum(int((~empty[f] & ~name_ok[f]).sum()) for f in names)

    # F11 guardian phone: a mobile or landline number once separators are removed (and a leading 86).
    phone = df["guardian_phone"].where(phone_raw_ok)
    rest = ~phone_raw_ok & ~empty["guardian_phone"]
    if rest.any():
        digits = phone_digits(df.loc[rest, "guardian_phone"])
        phone[rest] = digits.where(digits.str.fullmatch(MOBILE_OR_LANDLINE).fillna(False).astype(bool))
    counts["F11"] = int((~empty["guardian_phone"] & phone.isna()).sum())

    # C01 birth date vs the ID's birth segment, C02 gender vs the ID's sequence parity.
    resident_ok = k["resident_ok"]
    counts["C01"] = int((resident_ok & k["birth_ok"] & (k["birth_date"] != k["id_birth"])).sum())
    counts["C02"] = int((resident_ok & k["gender"].notna() & (k["gender"] != k["id_gender"])).sum())

    values = compared(k)
    values["name"] = names["name"].where(name_ok["name"])
    values["phone"] = phone
    return values


def rows_of_groups(frame, key, distinct):
    """Rows of the groups (by key) that hold two or more distinct values of the column distinct. Only rows whose key
    occurs more than once can be such rows: they are found first (hashing), then grouped."""
    repeated = frame[frame.duplicated(key, keep=False)]
    if repeated.empty:
        return 0
    return int((repeated.groupby(key, sort=False)[distinct].transform("nunique") >= 2).sum())


def duplicates(v, counts):
    """S03, X03, X04, X06: every row of a duplicate group counts."""
    keys = v[(v["student_no"] != "") & (v["school_code"] != "")]
    counts["S03"] = int(keys.duplicated(["school_code", "student_no"], keep=False).sum())

    # X03: a valid resident ID at two or more school codes.
    ids = v.loc[v["resident_ok"] & v["school_code_ok"], ["id_number", "school_code", "student_no", "student_no_ok"]]
    counts["X03"] = rows_of_groups(ids, ["id_number"], "school_code")

    # X04: one school, one valid resident ID, two or more student numbers (of valid form).
    counts["X04"] = rows_of_groups(ids[ids["student_no_ok"]], ["school_code", "id_number"], "student_no")

    # X06: same name, birth date and guardian phone under two or more ID numbers.
    people = v.loc[v["id_ok"] & v["name"].notna() & v["birth_date"].notna() & v["phone"].notna(),
                   ["name", "birth_date", "phone", "id_number"]]
    counts["X06"] = rows_of_groups(people, ["name", "birth_date", "phone"], "id_number")


def school_master(v, schools, counts):
    """X01 school not in the master or closed; X02 grade not offered by the school."""
    master = pd.DataFrame({"school_code": identifier(schools["school_code"]),
                           "is_open": trimmed(schools["is_open"]).isin(["1", "是", "Y", "y"]),
                           "min_grade": parse_grades(schools["min_grade"]),
                           "max_grade": parse_grades(schools["max_grade"])})
    open_schools = master[master["is_open"]].groupby("school_code").agg(min_grade=("min_grade", "min"),
                                                                          max_grade=("max_grade", "max"))
    coded = v.loc[v["school_code_ok"], ["school_code", "grade"]]
    counts["X01"] = int((~coded["school_code"].isin(open_schools.index)).sum())
    offered = coded.join(open_schools, on="school_code", how="inner")
    offered = offered[offered["grade"].notna()]
    counts["X02"] = int(((offered["grade"] < offered["min_grade"]) | (offered["grade"] > offered["max_grade"])).sum())
    return open_schools


def cross_round(v, p, open_schools, crossed, counts):
    """T01 continuing student missing, T02 identity values changed, T03 grade not advancing."""
    key = ["school_code", "student_no"]
    cur = v.loc[v["school_code_ok"] & v["student_no_ok"], key + ["birth_date", "gender", "id_number", "id_ok", "grade"]]
    prev = p.loc[p["school_code_ok"] & p["student_no_ok"], key + ["birth_date", "gender", "id_number", "id_ok", "grade"]]

    # One key column (school codes are 10 characters): hashing one string is cheaper than two.
    cur_key = cur["school_code"] + cur["student_no"]
    prev_key = prev["school_code"] + prev["student_no"]

    # T01: previous rows of open schools, not in the school's top grade, with no current row of the same key.
    gone = prev[~prev_key.isin(cur_key)].join(open_schools["max_grade"], on="school_code", how="inner")
    counts["T01"] = int((gone["grade"] != gone["max_grade"]).sum())

    # T02 and T03 against the first previous row of each key.
    first = prev.drop(columns=key).set_index(prev_key)
    first = first[~first.index.duplicated(keep="first")]
    both = cur.drop(columns=key).join(first, on=cur_key, how="inner", rsuffix="_prev")
    counts["T02"] = int(
        (both["birth_date"].notna() & both["birth_date_prev"].notna() & (both["birth_date"] != both["birth_date_prev"])).sum()
        + (both["gender"].notna() & both["gender_prev"].notna() & (both["gender"] != both["gender_prev"])).sum()
        + (both["id_ok"] & both["id_ok_prev"] & (both["id_number"] != both["id_number_prev"])).sum())
    graded = both[both["grade"].notna() & both["grade_prev"].notna()]
    counts["T03"] = int(((graded["grade"] < graded["grade_prev"]) | (crossed & (graded["grade"] == graded["grade_prev"]))).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", required=True)
    parser.add_argument("--schools", required=True)
    parser.add_argument("--previous", help="the previous round's students.csv (cross-round comparisons)")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--round-date", required=True)
    parser.add_argument("--previous-round-date")
    args = parser.parse_args()

    with open(args.reference, encoding="utf-8") as f:
        ref = json.load(f)
    reference = {"tables": {name: lookup_table(entries, ALIASES.get(name, {})) for name, entries in ref["code_lists"].items()},
                 "regions": set(ref["regions"])}
    round_date = pd.Timestamp(args.round_date)
    counts, timings = {}, {}

    start = time.perf_counter()
    df = read(args.students, STUDENT_HEADERS, CURRENT_COLUMNS)
    schools = read(args.schools, SCHOOL_HEADERS)
    previous = read(args.previous, STUDENT_HEADERS, PREVIOUS_COLUMNS) if args.previous else None
    timings["read"] = time.perf_counter() - start

    mark = time.perf_counter()
    values = check_round(df, reference, round_date, counts)
    timings["row_level"] = time.perf_counter() - mark

    mark = time.perf_counter()
    duplicates(values, counts)
    timings["duplicates"] = time.perf_counter() - mark

    mark = time.perf_counter()
    open_schools = school_master(values, schools, counts)
    timings["school_master"] = time.perf_counter() - mark

    if previous is not None:
        mark = time.perf_counter()
        previous_date = pd.Timestamp(args.previous_round_date)
        # The previous round's values are parsed and validated the same way, against its own round date.
        previous_values = compared(key_and_identity(previous, reference, previous_date))
        crossed = school_year(round_date) > school_year(previous_date)
        cross_round(values, previous_values, open_schools, crossed, counts)
        timings["cross_round"] = time.perf_counter() - mark

    timings["total"] = time.perf_counter() - start
    json.dump({"rows": len(df), "previous_rows": 0 if previous is None else len(previous),
               "timing_s": {k: round(v, 3) for k, v in timings.items()},
               "counts": counts,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
               "pandas": pd.__version__, "numpy": np.__version__}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
