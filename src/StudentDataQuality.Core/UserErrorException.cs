using System.Globalization;

namespace StudentDataQuality;

/// <summary>
/// A mistake the user can fix (bad input file, wrong option, missing setup). Its message says what was wrong, where, and
/// what to do; hosts show the message alone, without a stack trace. A message is a code with its arguments
/// (<see cref="UserMessage"/>): <see cref="Message"/> renders it in the reader's language (the thread's UI culture, which
/// each host sets: the portal per request, the command line from its settings), so no host glues two languages together.
/// </summary>
public class UserErrorException : Exception
{
    /// <summary>A mistake told by its code and arguments (Resources/Messages.resx).</summary>
    public UserErrorException(UserMessage message)
        : base(message?.Code)
    {
        ArgumentNullException.ThrowIfNull(message);
        Text = message;
    }

    /// <summary>A mistake told by its code and arguments, with what caused it.</summary>
    public UserErrorException(UserMessage message, Exception innerException)
        : base(message?.Code, innerException)
    {
        ArgumentNullException.ThrowIfNull(message);
        Text = message;
    }

    /// <summary>
    /// The standard constructor of an exception; not for messages to people (they are codes: a test fails on a throw with
    /// plain text).
    /// </summary>
    public UserErrorException(string message)
        : base(message)
    {
    }

    public UserErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public UserErrorException()
    {
    }

    /// <summary>The message's code and arguments; null for a message told in one language only.</summary>
    public UserMessage? Text { get; }

    /// <summary>The message in the reader's language (<see cref="CultureInfo.CurrentUICulture"/>).</summary>
    public override string Message => Text is { } text ? text.Render(CultureInfo.CurrentUICulture) : base.Message;

    /// <summary>The message in the given language.</summary>
    public string MessageIn(CultureInfo culture) => Text is { } text ? text.Render(culture) : base.Message;
}
