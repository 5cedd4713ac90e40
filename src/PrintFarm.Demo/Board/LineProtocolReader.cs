using System.Globalization;
using System.Text;
using PrintFarm.Worker.Reporting;

namespace PrintFarm.Demo.Board;

/// <summary>Reads back the lines the worker writes (the board shows exactly what goes to the database).</summary>
internal static class LineProtocolReader
{
    public static LinePoint? Parse(string line)
    {
        var i = 0;
        var measurement = ReadKey(line, ref i, stopAtEquals: false);
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        while (i < line.Length && line[i] == ',')
        {
            i++;
            var key = ReadKey(line, ref i, stopAtEquals: true);
            if (i >= line.Length || line[i] != '=')
            {
                return null;
            }

            i++;
            tags[key] = ReadKey(line, ref i, stopAtEquals: false);
        }

        if (i >= line.Length || line[i] != ' ')
        {
            return null;
        }

        i++;
        var fields = new Dictionary<string, object>(StringComparer.Ordinal);
        while (i < line.Length && line[i] != ' ')
        {
            var key = ReadKey(line, ref i, stopAtEquals: true);
            if (i >= line.Length || line[i] != '=')
            {
                return null;
            }

            i++;
            fields[key] = ReadValue(line, ref i);
            if (i < line.Length && line[i] == ',')
            {
                i++;
            }
        }

        var ts = i < line.Length && long.TryParse(line.AsSpan(i + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : 0;
        return new LinePoint(measurement, tags, fields, ts);
    }

    private static string ReadKey(string line, ref int i, bool stopAtEquals)
    {
        var sb = new StringBuilder();
        for (; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length)
            {
                sb.Append(line[++i]);
                continue;
            }

            if (c == ',' || c == ' ' || (stopAtEquals && c == '='))
            {
                break;
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    private static object ReadValue(string line, ref int i)
    {
        if (line[i] == '"')
        {
            var sb = new StringBuilder();
            for (i++; i < line.Length && line[i] != '"'; i++)
            {
                if (line[i] == '\\' && i + 1 < line.Length)
                {
                    i++;
                }

                sb.Append(line[i]);
            }

            i++;
            return sb.ToString();
        }

        var start = i;
        while (i < line.Length && line[i] != ',' && line[i] != ' ')
        {
            i++;
        }

        var raw = line.AsSpan(start, i - start);
        if (raw is "t" or "T" or "true" or "True" or "TRUE")
        {
            return true;
        }

        if (raw is "f" or "F" or "false" or "False" or "FALSE")
        {
            return false;
        }

        if (raw.Length > 0 && (raw[^1] == 'i' || raw[^1] == 'u'))
        {
            raw = raw[..^1];
        }

        return double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : raw.ToString();
    }
}
