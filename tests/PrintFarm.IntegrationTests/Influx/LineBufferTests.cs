using System.Text;
using PrintFarm.Worker.Influx;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>The writer's batches: lines encoded once into the request body, still addressable line by line.</summary>
public sealed class LineBufferTests
{
    private static readonly string[] Sample =
    [
        "printer,farm=a,printer=p1 nozzle_c=210.5 1700000000000",
        "kpi,farm=a,toy=Drache\\ grün value=0.9 1700000000000", // non-ASCII: 2 bytes per 'ü'
        "m v=1 1",
    ];

    [Fact]
    public void The_bytes_are_the_request_body_and_each_line_reads_back()
    {
        using var buffer = LineBuffer.Of(Sample);

        Assert.Equal(3, buffer.Count);
        Assert.Equal(string.Concat(Sample.Select(l => l + "\n")), Encoding.UTF8.GetString(buffer.Bytes));
        for (var i = 0; i < Sample.Length; i++)
        {
            Assert.Equal(Sample[i], Encoding.UTF8.GetString(buffer.Line(i)));
        }

        Assert.Equal(Sample, buffer.ToLines());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Line(3));
    }

    [Fact]
    public void It_grows_past_its_first_arrays_without_losing_a_line()
    {
        // Room for about 1 line of ~192 bytes; 3,000 lines of 300+ characters force both arrays to grow many times.
        using var buffer = new LineBuffer(1);
        var lines = Enumerable.Range(0, 3000).Select(i => $"m,p=p{i} s=\"{new string('x', 300 + (i % 7))}\" {i}").ToList();
        foreach (var line in lines)
        {
            buffer.Add(line);
        }

        Assert.Equal(lines, buffer.ToLines());
        Assert.Equal(lines.Sum(l => l.Length + 1), buffer.Bytes.Count);
    }

    [Fact]
    public void Lines_copied_from_another_buffer_as_UTF_8_are_the_same_lines()
    {
        using var source = LineBuffer.Of(Sample);
        using var copy = new LineBuffer(1);
        for (var i = source.Count - 1; i >= 0; i--)
        {
            copy.Add(source.Line(i));
        }

        Assert.Equal(Sample.Reverse(), copy.ToLines());
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 1)]
    [InlineData(3, 0)]
    public void A_slice_holds_exactly_its_lines(int start, int count)
    {
        using var buffer = LineBuffer.Of(Sample);
        using var slice = buffer.Slice(start, count);

        var expected = Sample.Skip(start).Take(count).ToList();
        Assert.Equal(expected, slice.ToLines());
        Assert.Equal(string.Concat(expected.Select(l => l + "\n")), Encoding.UTF8.GetString(slice.Bytes));
    }

    [Fact]
    public void A_slice_past_the_end_is_refused()
    {
        using var buffer = LineBuffer.Of(Sample);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Slice(2, 2));
    }

    [Fact]
    public void Once_disposed_it_takes_no_more_lines()
    {
        var buffer = LineBuffer.Of(Sample);
        buffer.Dispose();
        buffer.Dispose(); // twice is harmless

        Assert.Equal(0, buffer.Count);
        Assert.Throws<ObjectDisposedException>(() => buffer.Add("m v=1 1"));
    }
}
