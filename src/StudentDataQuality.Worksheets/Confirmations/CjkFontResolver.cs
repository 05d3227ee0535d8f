using PdfSharp.Fonts;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// The PDFsharp font resolver of the confirmation sheets: one family, <see cref="Family"/>, whose one face is
/// <see cref="CjkFont.Bytes"/>. PDFsharp takes a resolver once per process and only before its first font (GlobalFontSettings),
/// so <see cref="Install"/> sets this one instance once and is a no-op afterwards.
/// </summary>
internal sealed class CjkFontResolver : IFontResolver
{
    /// <summary>The family name the sheets ask for; it names no system font, so no other resolver answers it.</summary>
    public const string Family = "SDQ Sheet CJK";

    private const string FaceName = "sdq-sheet-cjk-regular";
    private static readonly CjkFontResolver Instance = new();
    private static readonly Lock Gate = new();

    private CjkFontResolver()
    {
    }

    /// <summary>Finds the font (a clear error when it is not installed) and installs the resolver, once per process.</summary>
    /// <exception cref="UserErrorException">No CJK font (Pdf.NoCjkFont).</exception>
    /// <exception cref="InvalidOperationException">Another font resolver was installed in this process first.</exception>
    public static void Install()
    {
        // Read the font before PDFsharp asks for it, so that a missing font is the user's error here and not PDFsharp's.
        _ = CjkFont.Bytes;
        lock (Gate)
        {
            if (ReferenceEquals(GlobalFontSettings.FontResolver, Instance))
            {
                return;
            }

            if (GlobalFontSettings.FontResolver is not null)
            {
                throw new InvalidOperationException(
                    $"Another PDFsharp font resolver ({GlobalFontSettings.FontResolver.GetType().FullName}) is installed; the confirmation sheets need theirs.");
            }

            GlobalFontSettings.FontResolver = Instance;
        }
    }

    public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic) =>
        string.Equals(familyName, Family, StringComparison.OrdinalIgnoreCase) ? new FontResolverInfo(FaceName) : null;

    public byte[]? GetFont(string faceName) => faceName == FaceName ? CjkFont.Bytes : null;
}
