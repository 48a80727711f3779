#pragma once
// Helpers for the integration tests: run the real dmm-sim binary and read what it wrote.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace dmm::test {

struct SimRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `bin` with `args`; stdout and stderr together.
inline SimRun run_tool(const std::string& bin, const std::vector<std::string>& args) {
  std::string cmd = shell_quote(bin);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>&1";
  SimRun run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return run;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) run.output.append(buf, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline SimRun run_sim(const std::vector<std::string>& args) { return run_tool(DMM_SIM_BIN, args); }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A CSV file as rows of column name -> cell (our files never quote commas in the columns tests read).
inline std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::stringstream ss(l);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    if (!l.empty() && l.back() == ',') cells.push_back("");
    return cells;
  };
  if (std::getline(f, line)) header = split(line);
  while (std::getline(f, line)) {
    auto cells = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("dmm-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// A CSV cell as a number; an empty cell (no figure) as -1.
inline double number(const std::string& cell) { return cell.empty() ? -1 : std::stod(cell); }

inline std::string scenario_path(const std::string& rel) { return std::string(DMM_SOURCE_DIR) + "/" + rel; }

}  // namespace dmm::test
