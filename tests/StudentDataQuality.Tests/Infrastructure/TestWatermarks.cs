using StudentDataQuality.Exports;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>Watermarks for tests that call a writer the export register normally hands one to.</summary>
public static class TestWatermarks
{
    public static Watermark Changes => new(ExportId.New(), "test", DateTimeOffset.UtcNow, "a test", ExportKind.Changes, ExportForm.Full);
}
