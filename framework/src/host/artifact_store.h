// The content-addressed artifact store of experiment graphs.
//
// Every graph node's output is one artifact: a folder of files filed under the node's key,
// 64 lower-case hexadecimal digits of SHA-256 that the graph computes from the node's kind,
// parameters, plugin name and version, input keys, seed and framework version (KeyBuilder
// below helps). A rerun finds what exists and computes only what is missing; a killed run
// never leaves anything half-written that would be read.
//
// Layout under the root (the caller chooses it; the command line's default is runs/store):
//
//   store.txt               "secateurs-store 1": marks the folder as a store, so that gc
//                           never empties a folder given by mistake
//   lock                    advisory flock(2): every open ArtifactStore holds it shared;
//                           cleanup, gc and remove need it exclusive (nobody else using it)
//   objects/<k0k1>/<key>/   a committed artifact: the node's files (subfolders allowed) and
//                           artifact.txt; never changed once there
//   tmp/<pid>-<n>-<key12>/  an artifact being written; never read. A killed process leaves
//                           one behind; cleanup and gc remove it
//   runs/<name>.txt         a run record: the keys of every node a run used, one a line
//                           (lines starting with '#' are comments); gc keeps what they reach
//
// artifact.txt ("name value" lines, in this order):
//
//   secateurs-artifact 1
//   key <64 hex>            must equal the folder's name
//   kind <kind>             [a-z][a-z0-9_-]*: train, prune, attack, ...
//   label <text>            for people (`secateurs cache ls`); control characters become spaces
//   created <YYYY-MM-DDThh:mm:ssZ>
//   framework <version>     SECATEURS_VERSION_STRING of the writer
//   bytes <N>               total size of the files, artifact.txt excluded
//   input <64 hex>          one line per input key, so gc can follow references
//   file <size> <path>      one line per file; path relative, '/'-separated, sorted
//
// Its modification time is the artifact's last use: commit() sets it and find() touches it
// (best effort), which is what `gc` with `unused_for` goes by.
//
// Writing: begin() makes a PendingArtifact, a fresh folder under tmp/; the caller writes the
// node's files into folder() (plainly or with write_file_atomically), then commit() fsyncs
// every file and folder, writes artifact.txt, and renames the folder to objects/. Renaming a
// folder is atomic, so an artifact is either absent or complete, and a full disk or a crash
// at any step leaves only a tmp/ folder. When another writer (thread or process) committed
// the same key first, commit() deletes its own folder and returns the existing one: equal
// keys mean equal work, and the first result stays.
//
// Damaged entries: find() returns an artifact only when its artifact.txt parses, names the
// folder's key, and every file it lists exists with the recorded size; anything else (a
// folder without artifact.txt, copied or edited by hand) is damaged and treated as absent,
// so it is recomputed, never read (list() and inspect() show it with the reason). find()
// leaves it where it is rather than moving it aside: between its check and a move, another
// process could replace it with a good copy, which the move would then throw away. The next
// commit() of that key swaps the fresh folder in with one atomic exchange (renameat2
// RENAME_EXCHANGE; on file systems without it, the damaged entry is moved to tmp/ first),
// and gc removes any damaged entry it meets.
//
// Garbage collection: gc() removes tmp/ leftovers, damaged entries, and every artifact no
// run record reaches (directly or through input keys, transitively); optionally also
// reachable ones not used for a given time, or everything. Run records stay: they are the
// history of what ran, and a record naming a removed artifact only means a rerun computes it
// again. Delete runs/<name>.txt to let gc reclaim what only that run used.
//
// Threads and processes: an ArtifactStore's members may be called from several threads at
// once, and several processes may share one store. Different PendingArtifacts may be
// written and committed concurrently, also for the same key; one PendingArtifact serves one
// thread at a time. gc() and remove() wait for this object's finds and commits in progress,
// and refuse (Error) while another process or another ArtifactStore object has the store
// open; they must not run while this process still reads artifacts found earlier. Opening
// blocks while another process runs gc or remove.
//
// Errors: every file-system failure throws secateurs::Error naming the path and the
// operating system's reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/sha256.h"
#include "secateurs/export.h"

namespace secateurs::host {

// Whether `text` is 64 lower-case hexadecimal digits.
SECATEURS_API bool is_artifact_key(std::string_view text);

// Hashes a sequence of fields into an artifact key. Each field is framed by a type tag and
// its length, so ("ab", "c") and ("a", "bc") differ, as do add("7") and add_integer(7).
// One builder serves one thread.
class SECATEURS_API KeyBuilder {
 public:
  KeyBuilder& add(std::string_view field);
  KeyBuilder& add_integer(std::int64_t value);
  // The key of every field added since construction or the last finish(); starts over.
  std::string finish();

 private:
  void frame(char tag, std::string_view bytes);
  Sha256 hasher_;
};

// What commit() writes into artifact.txt besides the key and the files.
struct ArtifactMeta {
  std::string kind;                 // [a-z][a-z0-9_-]*, at most 40 characters
  std::string label;                // free text for people
  std::vector<std::string> inputs;  // keys of the artifacts this one was computed from
};

// One entry of objects/, as artifact.txt describes it.
struct ArtifactInfo {
  std::string key;  // the folder's name (not a key at all for some damaged entries)
  std::filesystem::path folder;
  std::string kind;
  std::string label;
  std::string framework_version;
  std::uint64_t bytes = 0;
  std::vector<std::string> inputs;
  std::chrono::system_clock::time_point created{};
  std::chrono::system_clock::time_point last_used{};  // artifact.txt's modification time
  // Why the entry cannot be used; empty for a good artifact. A damaged entry's other
  // fields hold what could be read.
  std::string damage;

  bool damaged() const { return !damage.empty(); }
};

namespace detail {
struct StoreState;
}

// An artifact being written: a folder of its own under tmp/. Destroying it without a
// successful commit() removes the folder and everything in it. Move-only; it shares the
// store's state, so it may outlive the ArtifactStore that made it.
class SECATEURS_API PendingArtifact {
 public:
  PendingArtifact(PendingArtifact&& other) noexcept;
  PendingArtifact& operator=(PendingArtifact&& other) noexcept;
  PendingArtifact(const PendingArtifact&) = delete;
  PendingArtifact& operator=(const PendingArtifact&) = delete;
  ~PendingArtifact();

  const std::string& key() const { return key_; }
  // Where the node's files go; empty once committed. "artifact.txt" at its top is reserved.
  const std::filesystem::path& folder() const { return folder_; }
  bool committed() const { return committed_; }

  // Publishes the artifact and returns its folder under objects/ (the existing one when
  // another writer committed the key first). Throws Error naming the path and the reason
  // when a file cannot be flushed or described, the folder holds a symbolic link or
  // another non-plain file, or the rename fails; nothing is published then, and the
  // folder stays until this object is destroyed (commit() may be called again). Also
  // throws when already committed.
  std::filesystem::path commit();

 private:
  friend class ArtifactStore;
  PendingArtifact(std::shared_ptr<detail::StoreState> state, std::string key, ArtifactMeta meta,
                  std::string name);
  void discard() noexcept;

  std::shared_ptr<detail::StoreState> state_;
  std::string key_;
  ArtifactMeta meta_;
  std::string name_;  // the folder's name under tmp/
  std::filesystem::path folder_;
  bool committed_ = false;
  bool described_ = false;  // artifact.txt written by an earlier commit() that failed later
};

// What opening does with tmp/ leftovers.
enum class StoreCleanup {
  IfUnused,  // remove them when no other process (nor ArtifactStore object) uses the store
  Never,     // leave the store as it is (e.g. `secateurs cache ls`)
};

struct GcOptions {
  // Also remove artifacts that run records reach but that were not used for this long.
  std::optional<std::chrono::seconds> unused_for;
  // Remove every artifact (run records stay).
  bool everything = false;
  // Only say what would be removed. Runs under the shared lock, so it also works while
  // the store is in use.
  bool dry_run = false;
};

struct GcReport {
  std::vector<ArtifactInfo> removed;  // artifacts and damaged entries removed (or that would be)
  std::size_t kept = 0;
  std::uint64_t kept_bytes = 0;
  std::size_t leftovers_removed = 0;  // unfinished writes under tmp/
  std::size_t run_records = 0;
};

// Which artifacts remove() takes. With prefixes and a kind, the artifacts of that kind
// whose keys start with one of the prefixes; with a kind alone, all of that kind.
struct RemoveSelection {
  // Each at least 4 hexadecimal digits (either case), and matching exactly one entry
  // (damaged ones included when no kind is given): an ambiguous prefix is an error
  // listing the matches, as in git, so that a short prefix never removes more than meant.
  std::vector<std::string> key_prefixes;
  std::string kind;
  bool dry_run = false;
};

class SECATEURS_API ArtifactStore {
 public:
  // Opens the store at `root`, creating it when the folder is missing or empty. Throws
  // ConfigError when `root` is a non-empty folder that is not a store (no store.txt), or a
  // store of another layout version; Error when a folder or the lock cannot be made.
  explicit ArtifactStore(const std::filesystem::path& root,
                         StoreCleanup cleanup = StoreCleanup::IfUnused);
  ~ArtifactStore();
  // A moved-from store may only be destroyed or assigned to.
  ArtifactStore(ArtifactStore&&) noexcept;
  ArtifactStore& operator=(ArtifactStore&&) noexcept;
  ArtifactStore(const ArtifactStore&) = delete;
  ArtifactStore& operator=(const ArtifactStore&) = delete;

  // Whether `root` holds a store (its store.txt), without creating anything.
  static bool exists(const std::filesystem::path& root);

  // The absolute root.
  const std::filesystem::path& root() const;

  // The folder of the committed artifact `key`, or nullopt when there is none or the entry
  // is damaged. Marks it used now. Throws Error for a malformed key or a file that exists
  // but cannot be read.
  std::optional<std::filesystem::path> find(std::string_view key);

  // The entry of `key` as it is, damaged or not, without marking it used; nullopt when
  // absent.
  std::optional<ArtifactInfo> inspect(std::string_view key) const;

  // A fresh pending artifact for `key`. Throws Error for a malformed key, kind or input
  // key, or when the folder cannot be made.
  PendingArtifact begin(std::string_view key, ArtifactMeta meta);

  // Writes runs/<run_name>.txt atomically (replacing a record of the same name) with
  // `keys`, duplicates dropped. Throws ConfigError for a name that is empty, holds '/' or
  // a control character, starts with '.', or is over 200 characters; Error for a malformed
  // key.
  void record_run(std::string_view run_name, const std::vector<std::string>& keys);

  // The names of the run records, sorted.
  std::vector<std::string> run_names() const;

  // Every entry of objects/, damaged ones included, sorted by kind, label and key, damaged
  // entries last.
  std::vector<ArtifactInfo> list() const;

  // Folders under tmp/ that no PendingArtifact of this object owns: unfinished writes of
  // killed processes, or of other processes writing now.
  std::size_t leftover_count() const;

  // See "Garbage collection" above. Throws Error when another process uses the store (not
  // for a dry run), or when a run record is malformed (naming its file and line: gc
  // removes nothing rather than guess what the record meant).
  GcReport gc(const GcOptions& options = {});

  // Removes what `selection` names and returns it. Throws ConfigError for an empty
  // selection, a malformed or ambiguous prefix; NotFoundError for a prefix or kind that
  // matches nothing (with the nearest kinds); Error when another process uses the store.
  std::vector<ArtifactInfo> remove(const RemoveSelection& selection);

 private:
  std::shared_ptr<detail::StoreState> state_;
};

// "512 B", "1.5 KiB", "3.2 MiB", "1.0 GiB".
SECATEURS_API std::string format_size(std::uint64_t bytes);
// "42 s", "17 min", "5 h", "12 d" (negative durations, from clock skew, read as "0 s").
SECATEURS_API std::string format_age(std::chrono::system_clock::duration age);

// The table `secateurs cache ls` prints: KEY (12 digits), KIND, LABEL, SIZE, AGE (since
// created), USED (since last use), one line per entry in the given order, then a total
// line. A damaged entry shows "damaged" as its kind and the reason as its label.
SECATEURS_API std::string format_artifact_table(const std::vector<ArtifactInfo>& entries,
                                                std::chrono::system_clock::time_point now);

}  // namespace secateurs::host
