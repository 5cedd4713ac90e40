using System.Text;
using System.Text.Unicode;

namespace PrintFarm.Core.Ingestion;

/// <summary>Payload encoding fixes shared by the adapters.</summary>
internal static class PayloadText
{
    /// <summary>
    /// The payload itself when it is valid UTF-8; otherwise its bytes read as Latin-1 and re-encoded as UTF-8.
    /// Bambu Lab firmware can put non-UTF-8 bytes in file and task names; ha-bambulab's <c>safe_json_loads</c>
    /// falls back to Latin-1 the same way. Only a bad payload pays for the copy.
    /// </summary>
    public static ReadOnlyMemory<byte> Utf8OrLatin1(ReadOnlyMemory<byte> payload)
    {
        if (Utf8.IsValid(payload.Span))
        {
            return payload;
        }

        return Encoding.UTF8.GetBytes(Encoding.Latin1.GetString(payload.Span));
    }

    /// <summary>A short, single-line excerpt for reject details.</summary>
    public static string Excerpt(string s) => s.Length <= 40 ? s : string.Concat(s.AsSpan(0, 40), "…");
}
