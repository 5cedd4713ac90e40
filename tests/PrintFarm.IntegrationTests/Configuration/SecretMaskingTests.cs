using PrintFarm.Worker.Configuration;

namespace PrintFarm.IntegrationTests.Configuration;

/// <summary>Issue 18 item 13: what a value is decides whether it is masked, not only its key's name.</summary>
public sealed class SecretMaskingTests
{
    [Theory]
    [InlineData("http://admin:pw123456@influx:8086", "http://***@influx:8086")]
    [InlineData("http://influx:8086/?u=writer&p=pw123456", "http://influx:8086/?u=***&p=***")]
    [InlineData("https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/abcdEFGHijkl", "https://hooks.slack.com/services/***")]
    [InlineData("https://discord.com/api/webhooks/123456789012/tok-en_secret", "https://discord.com/api/webhooks/123456789012/***")]
    [InlineData("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k123&token=t456", "https://chat.googleapis.com/v1/spaces/AAA/messages?key=***&token=***")]
    [InlineData("https://ntfy.example.com/alerts?auth=QmVhcmVyIHRr", "https://ntfy.example.com/alerts?auth=***")]
    [InlineData("https://api.example.com/push/a1b2c3d4e5f6a7b8c9d0e1f2a3", "https://api.example.com/push/***")]
    [InlineData("http://localhost:8086", "http://localhost:8086")]
    [InlineData("Bearer tk_0123456789abcdef", "Bearer ***")]
    [InlineData("printfarm/alerts", "printfarm/alerts")]
    public void Text_masks_a_value_by_its_form(string value, string printed)
    {
        Assert.Equal(printed, SecretMasking.Text(value));
    }

    [Theory]
    [InlineData("Mqtt:Password", true)]
    [InlineData("Influx:Token", true)]
    [InlineData("Alerts:Webhook:Authorization", true)]
    [InlineData("X-Api-Key", true)]
    [InlineData("X-Auth-Token", true)]
    [InlineData("ClientSecret", true)]
    [InlineData("Mqtt:PasswordFile", false)]
    [InlineData("Mqtt:ClientKeyFile", false)]
    [InlineData("Mqtt:Username", false)]
    public void IsSecretKey_goes_by_the_last_level_of_the_key(string key, bool secret)
    {
        Assert.Equal(secret, SecretMasking.IsSecretKey(key));
    }
}
