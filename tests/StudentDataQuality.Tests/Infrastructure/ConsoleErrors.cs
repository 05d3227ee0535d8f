using Microsoft.Extensions.Logging;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>The portal's errors written to the test run's output (a failed request in a browser test shows only a timeout).</summary>
public sealed class ConsoleErrors : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"[portal {logLevel}] {category}: {formatter(state, exception)}{Environment.NewLine}{exception}");
            }
        }
    }
}
