#include "run/link_emulation_spec.hpp"

#include <nlohmann/json.hpp>

namespace dmm::emu {
namespace {

using Json = nlohmann::json;

// Internal format between two programs of one build: exact integers (bits/s, nanoseconds), no units to parse.
Json side_json(const LinkSide& s) {
  Json behind = Json::array();
  for (const auto& a : s.behind) behind.push_back(a.to_string());
  return {{"interface", s.interface}, {"host", s.host.to_string()}, {"emulator", s.emulator.to_string()},
          {"behind", behind}};
}

IpAddress address_at(const Json& j, const char* key) {
  auto a = IpAddress::parse(j.at(key).get<std::string>());
  if (!a) throw std::invalid_argument(std::string(key) + ": " + a.error().message);
  return *a;
}

LinkSide side_from(const Json& j) {
  LinkSide s;
  s.interface = j.at("interface").get<std::string>();
  s.host = address_at(j, "host");
  s.emulator = address_at(j, "emulator");
  for (const auto& b : j.at("behind")) {
    auto a = IpAddress::parse(b.get<std::string>());
    if (!a) throw std::invalid_argument("behind: " + a.error().message);
    s.behind.push_back(*a);
  }
  return s;
}

Json direction_json(const DirectionStats& d) {
  return {{"packets_sent", d.packets_sent},         {"packets_delivered", d.packets_delivered},
          {"packets_lost", d.packets_lost},         {"packets_queue_dropped", d.packets_queue_dropped},
          {"bytes_delivered", d.bytes_delivered},   {"saturated_sim_s", d.saturated_sim_s},
          {"saturated_wall_s", d.saturated_wall_s},
          {"packets_dropped_before_emulator", d.packets_dropped_before_emulator}};
}

DirectionStats direction_from(const Json& j) {
  DirectionStats d;
  d.packets_sent = j.at("packets_sent").get<std::uint64_t>();
  d.packets_delivered = j.at("packets_delivered").get<std::uint64_t>();
  d.packets_lost = j.at("packets_lost").get<std::uint64_t>();
  d.packets_queue_dropped = j.at("packets_queue_dropped").get<std::uint64_t>();
  d.bytes_delivered = j.at("bytes_delivered").get<std::uint64_t>();
  d.saturated_sim_s = j.at("saturated_sim_s").get<double>();
  d.saturated_wall_s = j.at("saturated_wall_s").get<double>();
  d.packets_dropped_before_emulator = j.at("packets_dropped_before_emulator").get<std::uint64_t>();
  return d;
}

template <typename T, typename F>
Result<T> parsed(const std::string& text, const char* what, F&& from) {
  try {
    return from(Json::parse(text));
  } catch (const std::exception& e) {
    return make_error(EINVAL, std::string(what) + ": " + e.what());
  }
}

}  // namespace

std::string emulator_spec_json(const EmulatorSpec& spec) {
  Json links = Json::array();
  for (const auto& l : spec.links)
    links.push_back({{"index", l.index}, {"name", l.name}, {"rate_bps", l.rate.value}, {"delay_ns", l.delay.count()}, {"loss", l.loss},
                     {"queue_packets", l.queue_packets}, {"a", side_json(l.a)}, {"b", side_json(l.b)}});
  Json events = Json::array();
  for (const auto& e : spec.events) {
    Json o{{"at_ns", e.at.count()}, {"link", e.link}};
    if (e.rate) o["rate_bps"] = e.rate->value;
    if (e.delay) o["delay_ns"] = e.delay->count();
    if (e.loss) o["loss"] = *e.loss;
    if (e.up) o["up"] = *e.up;
    events.push_back(std::move(o));
  }
  return Json{{"links", links},
              {"events", events},
              {"duration_ns", spec.duration.count()},
              {"seed", spec.seed},
              {"lateness_tick_ns", spec.lateness_tick.count()},
              {"pcap_dir", spec.pcap_dir}}
      .dump();
}

Result<EmulatorSpec> parse_emulator_spec(const std::string& json_text) {
  return parsed<EmulatorSpec>(json_text, "link emulator spec", [](const Json& j) {
    EmulatorSpec spec;
    for (const auto& l : j.at("links")) {
      LinkSpec link;
      link.index = l.at("index").get<std::uint32_t>();
      link.name = l.at("name").get<std::string>();
      link.rate = BitsPerSecond{l.at("rate_bps").get<double>()};
      link.delay = Duration(l.at("delay_ns").get<std::int64_t>());
      link.loss = l.at("loss").get<double>();
      link.queue_packets = l.at("queue_packets").get<std::uint32_t>();
      link.a = side_from(l.at("a"));
      link.b = side_from(l.at("b"));
      spec.links.push_back(std::move(link));
    }
    for (const auto& e : j.at("events")) {
      LinkEventSpec event;
      event.at = Duration(e.at("at_ns").get<std::int64_t>());
      event.link = e.at("link").get<std::uint32_t>();
      if (e.contains("rate_bps")) event.rate = BitsPerSecond{e["rate_bps"].get<double>()};
      if (e.contains("delay_ns")) event.delay = Duration(e["delay_ns"].get<std::int64_t>());
      if (e.contains("loss")) event.loss = e["loss"].get<double>();
      if (e.contains("up")) event.up = e["up"].get<bool>();
      spec.events.push_back(event);
    }
    spec.duration = Duration(j.at("duration_ns").get<std::int64_t>());
    spec.seed = j.at("seed").get<std::uint64_t>();
    spec.lateness_tick = Duration(j.at("lateness_tick_ns").get<std::int64_t>());
    spec.pcap_dir = j.at("pcap_dir").get<std::string>();
    return spec;
  });
}

std::string emulator_stats_json(const EmulatorStats& stats) {
  Json links = Json::array();
  for (const auto& l : stats.links)
    links.push_back({{"index", l.index}, {"a_to_b", direction_json(l.a_to_b)}, {"b_to_a", direction_json(l.b_to_a)}});
  return Json{{"links", links}, {"lateness_s", stats.lateness_s}, {"wall_s", stats.wall_s}, {"cpu_s", stats.cpu_s}}.dump();
}

Result<EmulatorStats> parse_emulator_stats(const std::string& json_text) {
  return parsed<EmulatorStats>(json_text, "link emulator report", [](const Json& j) {
    EmulatorStats stats;
    for (const auto& l : j.at("links")) {
      LinkStats s;
      s.index = l.at("index").get<std::uint32_t>();
      s.a_to_b = direction_from(l.at("a_to_b"));
      s.b_to_a = direction_from(l.at("b_to_a"));
      stats.links.push_back(s);
    }
    stats.lateness_s = j.at("lateness_s").get<std::vector<double>>();
    stats.wall_s = j.at("wall_s").get<double>();
    stats.cpu_s = j.at("cpu_s").get<double>();
    return stats;
  });
}

}  // namespace dmm::emu
