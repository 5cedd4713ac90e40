using System.Text;
using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;

namespace PrintFarm.IntegrationTests.Docs;

/// <summary>A fenced code block of a doc: where it is, its info string (<c>sh</c>, <c>json</c>, …) and its text, dedented.</summary>
internal sealed record DocBlock(string File, int Line, string Kind, string Text)
{
    public override string ToString() => $"{File}:{Line} ```{Kind}";
}

/// <summary>One shell command of a doc block: continuation lines joined, its trailing comment apart.</summary>
internal sealed record DocCommand(DocBlock Block, int Line, string Text, string Comment)
{
    public override string ToString() => $"{Block.File}:{Line}: {Text}";
}

/// <summary>An InfluxQL query written inline in a doc's prose (<c>`SELECT …`</c>, <c>`SHOW …`</c>).</summary>
internal sealed record DocQuery(string File, int Line, string Text)
{
    public override string ToString() => $"{File}:{Line}: {Text}";
}

/// <summary>
/// Reads the docs an operator follows — README.md and docs/*.md — into their fenced code blocks, the shell commands
/// in them, and the InfluxQL queries in their prose.
/// </summary>
internal static partial class DocBlocks
{
    /// <summary>README.md and docs/*.md, as paths relative to the repository root.</summary>
    public static IReadOnlyList<string> Files() =>
        ["README.md", .. Directory.GetFiles(Path.Combine(GrafanaFiles.RepoRoot, "docs"), "*.md").Order(StringComparer.Ordinal).Select(f => "docs/" + Path.GetFileName(f))];

    /// <summary>Every fenced block of every doc, in order.</summary>
    public static IReadOnlyList<DocBlock> All() => Files().SelectMany(Read).ToList();

    /// <summary>The fenced blocks of one doc; a fence indented in a list item is dedented with its text.</summary>
    public static IEnumerable<DocBlock> Read(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(GrafanaFiles.RepoRoot, file));
        for (var i = 0; i < lines.Length; i++)
        {
            var open = Fence().Match(lines[i]);
            if (!open.Success)
            {
                continue;
            }

            var indent = open.Groups["indent"].Value.Length;
            var kind = open.Groups["info"].Value.Trim();
            var body = new List<string>();
            var j = i + 1;
            for (; j < lines.Length && !(Fence().Match(lines[j]) is { Success: true } close && close.Groups["info"].Value.Length == 0); j++)
            {
                var line = lines[j];
                var strip = Math.Min(indent, line.Length - line.TrimStart(' ').Length);
                body.Add(line[strip..]);
            }

            if (j == lines.Length)
            {
                throw new InvalidOperationException($"{file}:{i + 1}: a code fence that is never closed");
            }

            yield return new DocBlock(file, i + 1, kind, string.Join('\n', body));
            i = j;
        }
    }

    /// <summary>
    /// The commands of a shell block: a line ending in <c>\</c> continues on the next; a <c>#</c> outside quotes and
    /// after a blank starts a comment; comment-only and empty lines are no command. In a <c>console</c> block only
    /// lines after a <c>$ </c> prompt are commands (the rest is output).
    /// </summary>
    public static IReadOnlyList<DocCommand> Commands(DocBlock block)
    {
        var commands = new List<DocCommand>();
        var lines = block.Text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var start = i;
            var line = lines[i];
            if (block.Kind == "console")
            {
                if (!line.StartsWith("$ ", StringComparison.Ordinal))
                {
                    continue;
                }

                line = line[2..];
            }

            var (code, comment) = SplitComment(line);
            var text = new StringBuilder();
            while (code.EndsWith('\\') && i + 1 < lines.Length)
            {
                text.Append(code[..^1]).Append(' ');
                (code, var more) = SplitComment(lines[++i]);
                comment = string.Join(' ', new[] { comment, more }.Where(c => c.Length > 0));
            }

            text.Append(code);
            var command = Regex.Replace(text.ToString(), @"\s+", " ").Trim();
            if (command.Length > 0)
            {
                commands.Add(new DocCommand(block, block.Line + 1 + start, command, comment));
            }
        }

        return commands;
    }

    /// <summary>InfluxQL queries in the docs' prose: inline code spans that start with <c>SELECT</c> or <c>SHOW</c>.</summary>
    public static IReadOnlyList<DocQuery> InlineQueries()
    {
        var queries = new List<DocQuery>();
        foreach (var file in Files())
        {
            var text = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, file));
            foreach (Match m in InlineQuery().Matches(text))
            {
                var line = text.AsSpan(0, m.Index).Count('\n') + 1;
                queries.Add(new DocQuery(file, line, Regex.Replace(m.Groups["q"].Value, @"\s+", " ")));
            }
        }

        return queries;
    }

    private static (string Code, string Comment) SplitComment(string line)
    {
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is null && c is '\'' or '"')
            {
                quote = c;
            }
            else if (quote == c)
            {
                quote = null;
            }
            else if (quote is null && c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return (line[..i].TrimEnd(), line[(i + 1)..].Trim());
            }
        }

        return (line.TrimEnd(), string.Empty);
    }

    [GeneratedRegex(@"^(?<indent> *)```(?<info>[^`]*)$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"(?<!`)`(?<q>(?:SELECT|SHOW) [^`]+)`(?!`)")]
    private static partial Regex InlineQuery();
}
