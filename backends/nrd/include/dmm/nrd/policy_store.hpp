#pragma once
// dmm-nrd's memory across restarts: the last policy it published, so that a restarted daemon resumes its version
// numbering (subscribers ignore versions that are not newer than theirs) and its decisions. One JSON object (the
// policy.jsonl form) written atomically: a temporary file in the same directory, fsync, rename over the old one,
// fsync of the directory. A crash at any point leaves either the old file or the new one, never a torn one.
#include <optional>
#include <string>

#include "dmm/policy.hpp"
#include "dmm/result.hpp"

namespace dmm::nrd {

class PolicyStore {
public:
  explicit PolicyStore(std::string path) : path_(std::move(path)) {}

  // nullopt if there is no file yet; EINVAL (`PATH: what is wrong`) if it is not a policy.
  Result<std::optional<Policy>> load() const;
  Status save(const Policy& policy) const;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

}  // namespace dmm::nrd
