#include "dmm/address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using ::testing::HasSubstr;

namespace dmm {
namespace {

IpAddress ip(std::string_view s) { return IpAddress::parse(s).value(); }
IpPrefix prefix(std::string_view s) { return IpPrefix::parse(s).value(); }

TEST(IpAddress, ParsesAndPrintsIPv4) {
  const IpAddress a = ip("192.168.1.20");
  EXPECT_EQ(a.family, IpFamily::v4);
  EXPECT_EQ(a.bit_width(), 32);
  EXPECT_EQ(a.to_string(), "192.168.1.20");
  EXPECT_EQ(a, IpAddress::v4(0xC0A80114));
  EXPECT_EQ(IpAddress::v4(0x7F000001).to_string(), "127.0.0.1");
  // Bytes past the fourth stay zero so equality needs no family switch.
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes[i], 0);
}

TEST(IpAddress, ParsesAndPrintsIPv6Canonically) {
  EXPECT_EQ(ip("::1").to_string(), "::1");
  EXPECT_EQ(ip("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(ip("::ffff:10.0.0.1").family, IpFamily::v6);
  EXPECT_EQ(ip("fe80::1").bit_width(), 128);
  EXPECT_NE(ip("::"), ip("0.0.0.0"));  // same bytes, different family
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "::g",
                          "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "[::1]", "localhost"}) {
    auto r = IpAddress::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_THAT(r.error().message, HasSubstr("invalid IP address")) << bad;
  }
  EXPECT_FALSE(IpAddress::parse(std::string(100, '1')));  // longer than any address: no buffer overrun
}

TEST(Mask, ZeroesBitsPastTheLength) {
  EXPECT_EQ(mask(ip("10.1.2.3"), 8), ip("10.0.0.0"));
  EXPECT_EQ(mask(ip("10.1.2.3"), 12), ip("10.0.0.0"));
  EXPECT_EQ(mask(ip("10.255.2.3"), 12), ip("10.240.0.0"));
  EXPECT_EQ(mask(ip("10.1.2.3"), 0), ip("0.0.0.0"));
  EXPECT_EQ(mask(ip("10.1.2.3"), 32), ip("10.1.2.3"));
  EXPECT_EQ(mask(ip("2001:db8:ffff::1"), 36), ip("2001:db8:f000::"));
  EXPECT_EQ(mask(ip("2001:db8::1"), 128), ip("2001:db8::1"));
  EXPECT_EQ(mask(ip("2001:db8::1"), 200), ip("2001:db8::1"));
}

TEST(IpPrefix, ParsesMasksAndPrints) {
  EXPECT_EQ(prefix("10.0.0.0/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(prefix("10.77.0.2/24").to_string(), "10.77.0.0/24");  // an interface address names its subnet
  EXPECT_EQ(prefix("2001:db8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(prefix("0.0.0.0/0").length, 0);
  EXPECT_EQ(prefix("::/0").to_string(), "::/0");
  EXPECT_EQ(prefix("1.2.3.4"), IpPrefix::host(ip("1.2.3.4")));
  EXPECT_EQ(prefix("1.2.3.4").length, 32);
  EXPECT_EQ(prefix("::1").length, 128);
  EXPECT_EQ(IpPrefix::of(ip("10.1.2.3"), 16).to_string(), "10.1.0.0/16");
}

TEST(IpPrefix, RejectsOutOfRangeLengthsAndGarbage) {
  EXPECT_EQ(IpPrefix::parse("1.2.3.4/33").error().message, "invalid prefix '1.2.3.4/33': length 33 out of range 0..32");
  EXPECT_THAT(IpPrefix::parse("::/129").error().message, HasSubstr("out of range 0..128"));
  for (const char* bad : {"1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/8x", "1.2.3.4/ 8", "/8", "x/8", "10.0.0.0/8/8", "1.2.3/8",
                          "1.2.3.4/99999999999"})
    EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
}

TEST(IpPrefix, ContainsOnlyItsOwnFamily) {
  const IpPrefix p = prefix("10.0.0.0/8");
  EXPECT_TRUE(p.contains(ip("10.255.255.255")));
  EXPECT_FALSE(p.contains(ip("11.0.0.0")));
  EXPECT_TRUE(prefix("0.0.0.0/0").contains(ip("8.8.8.8")));
  EXPECT_FALSE(prefix("0.0.0.0/0").contains(ip("::1")));
  EXPECT_FALSE(prefix("::/0").contains(ip("1.2.3.4")));
  EXPECT_TRUE(prefix("2001:db8::/32").contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(prefix("2001:db8::/32").contains(ip("2001:db9::")));
  EXPECT_TRUE(prefix("1.2.3.4/32").contains(ip("1.2.3.4")));
  EXPECT_FALSE(prefix("1.2.3.4/32").contains(ip("1.2.3.5")));
}

TEST(Endpoint, BracketsIPv6) {
  EXPECT_EQ((Endpoint{ip("1.2.3.4"), 80}).to_string(), "1.2.3.4:80");
  EXPECT_EQ((Endpoint{ip("::1"), 80}).to_string(), "[::1]:80");
  EXPECT_EQ((Endpoint{ip("2001:db8::1"), 65535}).to_string(), "[2001:db8::1]:65535");
}

}  // namespace
}  // namespace dmm
