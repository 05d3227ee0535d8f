namespace StudentDataQuality.Web;

/// <summary>
/// Words about parents' confirmations that several areas show (the lineage of a record, the field names of the sheet, the
/// state of a change): Resources/ConfirmationText.resx (zh-CN) and .en.resx.
/// </summary>
public sealed class ConfirmationText
{
    /// <summary>A confirmation field's name for the reader (its Chinese header, or its English one), from the record's layout.</summary>
    public static string FieldLabel(string field) =>
        !Confirmations.ConfirmationFields.Contains(field) ? field
        : Languages.English ? Confirmations.ConfirmationFields.Field(field).EnglishHeader
        : Confirmations.ConfirmationFields.Field(field).Header;
}
