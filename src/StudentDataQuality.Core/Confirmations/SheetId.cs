using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Confirmations;

/// <summary>
/// A confirmation sheet's id: "QS" and ten characters of Crockford's base32 (no I, L, O, U), 50 random bits, so that it
/// cannot be guessed from another sheet's. Printed as text ("QS-7K2MD-9XW4R") and as a QR code; typed back in any case,
/// with or without the dashes and spaces.
/// </summary>
public static class SheetId
{
    public static string New() => RandomId.New("QS");

    /// <summary>The id as printed: "QS-7K2MD-9XW4R".</summary>
    public static string Format(string sheetId) => RandomId.Format(sheetId);

    /// <summary>The stored id of what someone typed or a reader scanned, or null when it cannot be a sheet id.</summary>
    public static string? Normalise(string? text) => RandomId.Normalise(text, "QS");
}
