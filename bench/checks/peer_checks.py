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

Not done here (the project's run does them): S02 (control characters, lengths), F05, F07, C03-C10, X05, A01-A03,
and the storing of findings with their details. Values are not set aside after a failure the way the staged
runner does it, except where a later check needs a parsed value (it then uses only values that parsed and passed
their own format check), which is what gives the same counts on the generated province.
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
OTHER_ID = {"6": r"H[0-9]{8}(?:[0-9]{2})?", "7": r"M[0-9]{8}(?:[0-9]{2})?", "8": r"[0-9]{8}(?:[0-9]{2})?",
            "9": r"[A-Z]{3}[0-9]{12}"}
NAME = r"(?:[\u3400-\u4dbf\u4e00-\u9fff]+(?:·[\u3400-\u4dbf\u4e00-\u9fff]+)*|[A-Za-z]+(?:·[A-Za-z]+)*)"
MOBILE_OR_LANDLINE = r"(?:1[3-9][0-9]{9}|0[0-9]{2,3}[2-9][0-9]{6,7})"
PROVINCE = "23"
# The previous round is read for the cross-round comparisons only.
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
    miss = codes.isna() & (raw != "")
    if miss.any():
        codes[miss] = identifier(raw[miss]).map(table)
    return codes


def parse_dates(raw):
    """YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日 to datetime (NaT when not a real date)."""
    dates = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    miss = dates.isna() & (raw != "")
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
    miss = grades.isna() & (raw != "")
    if miss.any():
        grades[miss] = trimmed(raw[miss].str.translate(FULL_WIDTH)).map(GRADES)
    return grades


def resident_id_facts(ids, is_resident):
    """Shape, check character and birth segment of resident ID numbers, vectorised with numpy."""
    shape = is_resident & ids.str.fullmatch(r"[0-9]{17}[0-9X]")
    check_ok = pd.Series(False, index=ids.index)
    birth = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    shaped = ids[shape]
    if len(shaped):
        digits = np.frombuffer("".join(shaped.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        total = (digits[:, :17].astype(np.int64) - 48) @ ID_WEIGHTS
        check_ok[shape] = ID_CHECK[total % 11] == digits[:, 17]
        birth[shape] = pd.to_datetime(shaped.str[6:14], format="%Y%m%d", errors="coerce")
    return shape, check_ok, birth


def other_id_ok(ids, id_types):
    ok = pd.Series(False, index=ids.index)
    for code, pattern in OTHER_ID.items():
        mask = id_types == code
        if mask.any():
            ok[mask] = ids[mask].str.fullmatch(pattern)
    mask = id_types == "A"
    if mask.any():
        ok[mask] = ids[mask].str.fullmatch(r"[A-Z0-9]{5,17}") & ids[mask].str.contains(r"[0-9]")
    return ok.astype(bool)


def phone_digits(raw):
    """Digits of a phone number once spaces, hyphens, brackets and + are removed; NaN when anything else is there."""
    digits = raw.where(raw.str.fullmatch(r"[0-9]+"))
    rest = digits.isna() & (trimmed(raw) != "")
    if rest.any():
        folded = raw[rest].str.translate(FULL_WIDTH)
        cleaned = folded.str.replace(r"[ \-()+]", "", regex=True)
        digits[rest] = cleaned.where(cleaned.str.fullmatch(r"[0-9]+"))
    country = digits.str.fullmatch(r"86[0-9]{11}").fillna(False).astype(bool)
    digits[country] = digits[country].str[2:]
    return digits


def school_year(date):
    return date.year if date.month >= 9 else date.year - 1


def key_and_identity(df, reference, round_date):
    """The values the cross-record and cross-round checks compare, parsed and validated as the format checks do."""
    empty = {f: trimmed(df[f]) == "" for f in ("student_no", "school_code", "birth_date")}
    student_no = identifier(df["student_no"])
    school_code = identifier(df["school_code"])
    id_type = match_codes(df["id_type"], reference["tables"]["id_type"])
    id_number = identifier(df["id_number"])
    resident = (id_type == "1") & (id_number != "")
    shape, check_ok, id_birth = resident_id_facts(id_number, resident)
    other = (id_number != "") & id_type.isin(["6", "7", "8", "9", "A"])
    other_ok = other_id_ok(id_number, id_type)
    birth_date = parse_dates(df["birth_date"])
    birth_ok = birth_date.between(round_date - pd.DateOffset(years=25), round_date - pd.DateOffset(years=3))
    return {
        "empty": empty, "student_no": student_no, "school_code": school_code,
        "student_no_ok": student_no.str.fullmatch(r"[GLJ][0-9A-Z]{18}") & ~empty["student_no"],
        "school_code_ok": school_code.str.fullmatch(r"[0-9]{10}") & (school_code.str[2:4] == PROVINCE) & ~empty["school_code"],
        "id_type": id_type, "id_number": id_number, "resident": resident, "shape": shape, "check_ok": check_ok,
        "id_birth": id_birth, "other": other, "other_ok": other_ok,
        "resident_ok": shape & check_ok & id_birth.notna(),
        "id_ok": (shape & check_ok & id_birth.notna()) | (other & other_ok),
        "birth_date": birth_date, "birth_ok": birth_ok,
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
    t = {f: trimmed(df[f]) for f in REQUIRED + ["household_type", "only_child", "disability"]}
    empty = {f: t[f] == "" for f in t}
    codes = {f: k[f] if f in ("id_type", "gender") else match_codes(df[f], reference["tables"][lst]) for f, lst in CODED.items()}

    # S01: a required field empty or white space only; the ID number may be empty when the ID type is Z.
    s01 = sum(int(empty[f].sum()) for f in REQUIRED if f != "id_number")
    counts["S01"] = s01 + int((empty["id_number"] & (k["id_type"] != "Z")).sum())

    # F01 student number, F09 school code.
    counts["F01"] = int((~empty["student_no"] & ~k["student_no_ok"]).sum())
    counts["F09"] = int((~empty["school_code"] & ~k["school_code_ok"]).sum())

    # F02 shape by ID type, F03 check character, F04 birth segment, F12 spreadsheet-mangled.
    id_number, resident, shape, check_ok = k["id_number"], k["resident"], k["shape"], k["check_ok"]
    scientific = resident & id_number.str.fullmatch(r"[0-9](?:\.[0-9]+)?E\+?[0-9]{1,2}")
    padded = resident & id_number.str.fullmatch(r"[0-9]{15}000")
    counts["F02"] = int((resident & ~shape & ~scientific).sum() + (k["other"] & ~k["other_ok"]).sum())
    counts["F03"] = int((shape & ~check_ok & ~padded).sum())
    counts["F04"] = int((shape & k["id_birth"].isna() & (~padded | check_ok)).sum())
    counts["F12"] = int((scientific | (padded & ~check_ok)).sum())

    # F06 birth date: a real date within 3-25 years before the round date.
    counts["F06"] = int((~empty["birth_date"] & ~k["birth_ok"]).sum())

    # F08 code lists: one finding per field; regions are six-digit codes of a current region.
    f08 = sum(int((codes[f].isna() & ~empty[f]).sum()) for f in CODED)
    f08 += int((k["grade"].isna() & ~empty["grade"]).sum())
    for f in ("birthplace", "household_region"):
        region = df[f].where(df[f].str.fullmatch(r"[0-9]{6}"), trimmed(df[f].str.translate(FULL_WIDTH)))
        f08 += int((~region.isin(reference["regions"]) & ~empty[f]).sum())
    counts["F08"] = f08

    # F10 names, F11 guardian phone.
    name_ok = {}
    f10 = 0
    for f in ("name", "guardian_name"):
        name_ok[f] = t[f].str.len().between(2, 30) & t[f].str.fullmatch(NAME)
        f10 += int((~empty[f] & ~name_ok[f]).sum())
    counts["F10"] = f10
    phone = phone_digits(df["guardian_phone"])
    phone_ok = phone.str.fullmatch(MOBILE_OR_LANDLINE).fillna(False).astype(bool)
    counts["F11"] = int((~empty["guardian_phone"] & ~phone_ok).sum())

    # C01 birth date vs the ID's birth segment, C02 gender vs the ID's sequence parity.
    resident_ok, birth_date = k["resident_ok"], k["birth_date"]
    counts["C01"] = int((resident_ok & k["birth_ok"] & (birth_date != k["id_birth"])).sum())
    id_gender = pd.Series(np.where(id_number.str[16].isin(list("13579")), "1", "2"), index=df.index)
    counts["C02"] = int((resident_ok & k["gender"].notna() & (k["gender"] != id_gender)).sum())

    values = compared(k)
    values["name"] = t["name"].where(name_ok["name"])
    values["phone"] = phone.where(phone_ok)
    return values


def duplicates(v, counts):
    """S03, X03, X04, X06: every row of a duplicate group counts."""
    keys = v[(v["student_no"] != "") & (v["school_code"] != "")]
    counts["S03"] = int(keys.duplicated(["school_code", "student_no"], keep=False).sum())

    # X03: a valid resident ID at two or more school codes.
    ids = v.loc[v["resident_ok"] & v["school_code_ok"], ["id_number", "school_code", "student_no", "student_no_ok"]]
    pairs = ids[["id_number", "school_code"]].drop_duplicates()
    several = pairs.loc[pairs["id_number"].duplicated(keep=False), "id_number"].unique()
    counts["X03"] = int(ids["id_number"].isin(several).sum())

    # X04: one school, one valid resident ID, two or more student numbers (of valid form).
    numbered = ids.loc[ids["student_no_ok"], ["school_code", "id_number", "student_no"]]
    distinct = numbered.drop_duplicates()
    groups = distinct.loc[distinct.duplicated(["school_code", "id_number"], keep=False), ["school_code", "id_number"]]
    counts["X04"] = int(len(numbered.merge(groups.drop_duplicates(), on=["school_code", "id_number"])))

    # X06: same name, birth date and guardian phone under two or more ID numbers.
    people = v.loc[v["id_ok"] & v["name"].notna() & v["birth_date"].notna() & v["phone"].notna(),
                   ["name", "birth_date", "phone", "id_number"]]
    distinct = people.drop_duplicates()
    groups = distinct.loc[distinct.duplicated(["name", "birth_date", "phone"], keep=False), ["name", "birth_date", "phone"]]
    counts["X06"] = int(len(people.merge(groups.drop_duplicates(), on=["name", "birth_date", "phone"])))


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

    # T01: previous rows of open schools, not in the school's top grade, with no current row of the same key.
    gone = prev.merge(cur[key].drop_duplicates(), on=key, how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"].join(open_schools["max_grade"], on="school_code", how="inner")
    counts["T01"] = int((gone["grade"] != gone["max_grade"]).sum())

    # T02 and T03 against the first previous row of each key.
    first = prev.drop_duplicates(key, keep="first")
    both = cur.merge(first, on=key, how="inner", suffixes=("", "_prev"))
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
    df = read(args.students, STUDENT_HEADERS)
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
