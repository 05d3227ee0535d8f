using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// Hands out resident ID numbers that are unique in the whole province (both rounds), so that no duplicate person
/// appears by chance. One counter per region, birth date and gender: memory is bounded by the reference data
/// (regions × days), never by the number of students.
/// </summary>
internal sealed class IdAllocator
{
    private const int SequencesPerGender = 500;

    private readonly string[] _regions;
    private readonly Dictionary<string, int> _regionIndex;
    private readonly DateOnly _first;
    private readonly int _days;
    private readonly ushort[] _counters;

    public IdAllocator(IReadOnlyList<string> regions, DateOnly first, DateOnly last)
    {
        _regions = [.. regions];
        _regionIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _regions.Length; i++)
        {
            _regionIndex.TryAdd(_regions[i], i);
        }

        _first = first;
        _days = last.DayNumber - first.DayNumber + 1;
        _counters = new ushort[_regions.Length * _days * 2];
    }

    public bool Covers(DateOnly birth) => birth.DayNumber >= _first.DayNumber && birth.DayNumber - _first.DayNumber < _days;

    /// <summary>A fresh, valid number for this birth date and gender, in <paramref name="region"/> while it has room.</summary>
    public string Allocate(string region, DateOnly birth, int gender)
    {
        if (!_regionIndex.TryGetValue(region, out var start))
        {
            throw new ArgumentException($"Region {region} is not one the allocator was built with.", nameof(region));
        }

        if (!Covers(birth))
        {
            throw new ArgumentOutOfRangeException(nameof(birth), birth, "Birth date outside the allocator's range.");
        }

        var day = birth.DayNumber - _first.DayNumber;
        for (var attempt = 0; attempt < _regions.Length; attempt++)
        {
            var r = (start + attempt) % _regions.Length;
            var slot = ((r * _days) + day) * 2 + (gender == 1 ? 0 : 1);
            int used = _counters[slot];
            if (used >= SequencesPerGender)
            {
                continue;
            }

            _counters[slot] = (ushort)(used + 1);

            // A bijection of 0..499 (7 is coprime with 500) so sequences look scattered, not 001, 003, 005...
            var k = ((used * 7) + ((r * 31) + (day * 17)) % SequencesPerGender) % SequencesPerGender;
            var sequence = (k * 2) + (gender == 1 ? 1 : 0);
            return ResidentId.Create(_regions[r], birth, sequence);
        }

        throw new InvalidOperationException($"No resident ID sequence left for birth date {birth:yyyy-MM-dd}.");
    }
}
