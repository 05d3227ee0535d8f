using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Web;

namespace StudentDataQuality.Cli.Commands;

/// <summary>
/// Removes an account's second factor (a lost or changed phone): it enrols again at its next sign-in. Audited
/// (second-factor.reset, with whether there was one).
/// </summary>
public sealed class UserResetSecondFactorCommand : AsyncCommand<UserNameSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserNameSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var wasEnrolled = await new SecondFactors(dataSource).ResetAsync(settings.Name, SdqEnvironment.Actor, cancellationToken);
        if (wasEnrolled)
        {
            AnsiConsole.MarkupLineInterpolated($"The second factor of {settings.Name} is removed; it sets up a new one at its next sign-in.");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"{settings.Name} had no second factor set up; nothing else changed.");
        }

        return 0;
    }
}

/// <summary>The second factor's settings of `sdq web`: Web:SecondFactorRoles, the roles that must have one.</summary>
public static class SecondFactorSettings
{
    /// <summary>
    /// Web:SecondFactorRoles (comma-separated: data-team, district, school, manager, class-teacher; "none" for none), else the data team
    /// and districts.
    /// </summary>
    public static SecondFactorPolicy FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration["Web:SecondFactorRoles"] is not { Length: > 0 } configured)
        {
            return SecondFactorPolicy.Default;
        }

        var roles = new HashSet<AccountRole>();
        foreach (var name in configured.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (name == "none")
            {
                continue;
            }

            roles.Add(name switch
            {
                "data-team" => AccountRole.DataTeam,
                "district" => AccountRole.District,
                "school" => AccountRole.School,
                "manager" => AccountRole.Manager,
                "class-teacher" => AccountRole.ClassTeacher,
                _ => throw new UserErrorException(new UserMessage("SecondFactor.UnknownRole", name)),
            });
        }

        return SecondFactorPolicy.Default with { RequiredFor = roles };
    }
}
