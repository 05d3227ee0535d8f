using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Synthetic;

/// <summary>The bad values a registrar's export really contains, each failing exactly one rule.</summary>
internal sealed partial class ProvinceRun
{
    // Never longer than 19 characters: a longer value would exceed the field's length (S02) before F01 sees it.
    private string MangleStudentNo(string number) => _rng.Next(3) switch
    {
        0 => number[1..],                  // the letter dropped: 18 characters
        1 => number[..^1],                 // a character lost: letter + 17
        _ => "X" + number[1..],            // an unknown letter
    };

    private string BadShape(string id) => _rng.Next(3) switch
    {
        0 => id[..17],
        1 => id + (char)('0' + _rng.Next(10)),
        _ => id[..8] + "O" + id[9..],   // letter O typed for a zero-like digit
    };

    private string WrongCheck(string id)
    {
        const string checks = "0123456789X";
        while (true)
        {
            var c = checks[_rng.Next(checks.Length)];
            var bad = id[..17] + c;
            if (c != id[17] && !LooksPadded(bad))
            {
                return bad;
            }
        }
    }

    /// <summary>The F12 shape of a number a spreadsheet padded: 15 digits and 000.</summary>
    private static bool LooksPadded(string id) => id.EndsWith("000", StringComparison.Ordinal) && id.All(char.IsAsciiDigit);

    private string ImpossibleBirthSegment(string id, DateOnly birth)
    {
        var y = birth.Year;
        var segment = _rng.Next(3) switch
        {
            0 => DateTime.IsLeapYear(y) ? $"{y}0230" : $"{y}0229",
            1 => $"{y}13{birth.Day:D2}",
            _ => $"{y}{birth.Month:D2}32",
        };
        var first17 = id[..6] + segment + id[14..17];
        return first17 + ResidentId.ComputeCheckCharacter(first17);
    }

    private string BadBirthDate(DateOnly birth)
    {
        var y = birth.Year;
        return _rng.Next(5) switch
        {
            0 => $"{y}-02-30",
            1 => $"{(DateTime.IsLeapYear(y) ? y - 1 : y)}-02-29",
            2 => $"{y}-13-{birth.Day:D2}",
            3 => SchoolCalendar.FormatDate(_options.RoundDate.AddYears(-26).AddDays(-_rng.Next(365))),
            _ => SchoolCalendar.FormatDate(_options.RoundDate.AddYears(-2).AddDays(-_rng.Next(200))),
        };
    }

    private string BadEntryMonth(StudentRow slot)
    {
        var year = SchoolCalendar.EntryYear(_schoolYear, slot.Grade);
        return _rng.Next(4) switch
        {
            0 => $"{year}13",
            1 => $"{year}-00",
            2 => $"{year}9",
            _ => $"{year}年13月",
        };
    }

    private string BadSchoolCode(string code) => _rng.Next(3) switch
    {
        0 => code[..9],
        1 => code[..2] + "22" + code[4..],
        _ => code[..5] + "O" + code[6..],
    };

    private DateOnly OtherDayOfCohort(DateOnly birth)
    {
        var age = SchoolCalendar.AgeAt(birth, SchoolCalendar.SchoolYearStart(_schoolYear));
        var (first, last) = SchoolCalendar.Cohort(_schoolYear, age);
        while (true)
        {
            var day = first.AddDays(_rng.Next(last.DayNumber - first.DayNumber + 1));
            if (day != birth)
            {
                return day;
            }
        }
    }
}
