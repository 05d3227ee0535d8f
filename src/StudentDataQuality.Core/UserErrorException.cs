namespace StudentDataQuality;

/// <summary>
/// A mistake the user can fix (bad input file, wrong option, missing setup). Its message says what was wrong,
/// where, and what to do; hosts show the message alone, without a stack trace.
/// </summary>
public class UserErrorException : Exception
{
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
}
