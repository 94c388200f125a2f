// The artifact store: commits are all or nothing, leftovers of killed writers are never read
// and get cleaned up, concurrent writers of one key end with one complete artifact, damaged
// entries are recomputed, and gc and rm remove exactly what they should.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/artifact_store.h"
#include "host/atomic_file.h"
#include "secateurs/error.h"
#include "secateurs/version.h"
#include "support/file_size_limit.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::contains;
using secateurs::testing::message_of;
using secateurs::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string key_of(const std::string& name) {
  return KeyBuilder().add(name).finish();
}

// A key with a chosen beginning, to make prefixes collide.
std::string key_starting(const std::string& prefix, char fill) {
  return prefix + std::string(64 - prefix.size(), fill);
}

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  if (!fs::exists(folder)) return names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

// Every committed entry under objects/, as "<shard>/<key>".
std::vector<std::string> objects_in(const fs::path& root) {
  std::vector<std::string> found;
  for (const std::string& shard : names_in(root / "objects")) {
    for (const std::string& key : names_in(root / "objects" / shard)) {
      found.push_back(shard + "/" + key);
    }
  }
  return found;
}

fs::path commit_artifact(ArtifactStore& store, const std::string& key, const std::string& kind,
                         const std::string& label, std::vector<std::string> inputs = {},
                         const std::string& content = "content") {
  PendingArtifact pending = store.begin(key, {kind, label, std::move(inputs)});
  write_file_atomically(pending.folder() / "result.txt", content);
  return pending.commit();
}

void age_artifact(const fs::path& folder, std::chrono::hours age) {
  fs::last_write_time(folder / "artifact.txt", fs::file_time_type::clock::now() - age);
}

std::set<std::string> keys_of(const std::vector<ArtifactInfo>& entries) {
  std::set<std::string> keys;
  for (const ArtifactInfo& entry : entries) keys.insert(entry.key);
  return keys;
}

}  // namespace

TEST_CASE("artifact store: keys frame their fields, so concatenations do not collide") {
  const std::string ab_c = KeyBuilder().add("ab").add("c").finish();
  CHECK(is_artifact_key(ab_c));
  CHECK(ab_c == KeyBuilder().add("ab").add("c").finish());
  CHECK(ab_c != KeyBuilder().add("a").add("bc").finish());
  CHECK(ab_c != KeyBuilder().add("abc").finish());
  CHECK(KeyBuilder().add("7").finish() != KeyBuilder().add_integer(7).finish());
  CHECK(KeyBuilder().add("").finish() != KeyBuilder().finish());

  KeyBuilder reused;
  reused.add("ab").add("c");
  CHECK(reused.finish() == ab_c);
  CHECK(reused.add("ab").add("c").finish() == ab_c);  // finish() starts over

  CHECK_FALSE(is_artifact_key(std::string(63, 'a')));
  CHECK_FALSE(is_artifact_key(std::string(64, 'A')));
  CHECK_FALSE(is_artifact_key(std::string(64, 'g')));
}

TEST_CASE("artifact store: a committed artifact is found, with its files and description") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string input = key_of("data split");
  const std::string key = key_of("train mlp");
  CHECK_FALSE(store.find(key).has_value());

  PendingArtifact pending = store.begin(key, {"train", "mlp seed=1\nsecond line", {input}});
  CHECK(pending.folder().parent_path() == store.root() / "tmp");
  write_file_atomically(pending.folder() / "model.ckpt", std::string(1000, 'w'));
  fs::create_directories(pending.folder() / "roc");
  write_file_atomically(pending.folder() / "roc" / "0.csv", "fpr,tpr\n");
  const fs::path folder = pending.commit();
  CHECK(pending.committed());
  CHECK(folder == store.root() / "objects" / key.substr(0, 2) / key);
  CHECK_THROWS_AS(pending.commit(), Error);

  const auto found = store.find(key);
  REQUIRE(found.has_value());
  CHECK(*found == folder);
  CHECK(read_file(*found / "model.ckpt") == std::string(1000, 'w'));
  CHECK(read_file(*found / "roc" / "0.csv") == "fpr,tpr\n");

  const std::string record = read_file(*found / "artifact.txt");
  CHECK(record.rfind("secateurs-artifact 1\nkey " + key + "\nkind train\n", 0) == 0);
  CHECK(contains(record, "\nlabel mlp seed=1 second line\n"));  // one line, always
  CHECK(contains(record, "\nframework " SECATEURS_VERSION_STRING "\n"));
  CHECK(contains(record, "\nbytes 1008\n"));
  CHECK(contains(record, "\ninput " + input + "\n"));
  CHECK(contains(record, "\nfile 1000 model.ckpt\n"));
  CHECK(contains(record, "\nfile 8 roc/0.csv\n"));

  const auto info = store.inspect(key);
  REQUIRE(info.has_value());
  CHECK_FALSE(info->damaged());
  CHECK(info->kind == "train");
  CHECK(info->label == "mlp seed=1 second line");
  CHECK(info->bytes == 1008);
  CHECK(info->inputs == std::vector<std::string>{input});
  CHECK(info->framework_version == SECATEURS_VERSION_STRING);
  CHECK(std::chrono::abs(std::chrono::system_clock::now() - info->created) <
        std::chrono::minutes(1));
  CHECK(names_in(store.root() / "tmp").empty());

  // A store opened again (as by the next run) finds it too.
  ArtifactStore again(dir / "store");
  CHECK(again.find(key) == folder);
}

TEST_CASE("artifact store: find marks an artifact used") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string key = key_of("used");
  const fs::path folder = commit_artifact(store, key, "train", "t");
  age_artifact(folder, std::chrono::hours(24 * 30));
  const auto before = store.inspect(key)->last_used;
  CHECK(std::chrono::system_clock::now() - before > std::chrono::hours(24 * 29));
  REQUIRE(store.find(key).has_value());
  CHECK(std::chrono::system_clock::now() - store.inspect(key)->last_used < std::chrono::minutes(1));
}

TEST_CASE("artifact store: a pending artifact destroyed without commit leaves nothing") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string key = key_of("abandoned");
  fs::path folder;
  {
    PendingArtifact pending = store.begin(key, {"train", "abandoned", {}});
    folder = pending.folder();
    write_file_atomically(folder / "model.ckpt", "half a model");
    CHECK(fs::exists(folder / "model.ckpt"));
    PendingArtifact moved = std::move(pending);  // the move carries the folder along
    CHECK(moved.folder() == folder);
    CHECK(pending.folder().empty());
    CHECK(fs::exists(folder));
  }
  CHECK_FALSE(fs::exists(folder));
  CHECK(names_in(store.root() / "tmp").empty());
  CHECK(objects_in(store.root()).empty());
  CHECK_FALSE(store.find(key).has_value());
}

TEST_CASE("artifact store: leftovers of a killed writer are never read and are cleaned up") {
  TempDir dir;
  const fs::path root = dir / "store";
  const std::string key = key_of("killed");
  // What SIGKILL during a write leaves: a folder under tmp/, complete or not.
  const auto leave_leftover = [&](const std::string& name) {
    fs::create_directories(root / "tmp" / name);
    write_file_atomically(root / "tmp" / name / "model.ckpt", "weights");
    write_file_atomically(root / "tmp" / name / "artifact.txt", "secateurs-artifact 1\nkey " + key);
  };
  {
    ArtifactStore writer(root);
    PendingArtifact live = writer.begin(key_of("live"), {"train", "live", {}});
    write_file_atomically(live.folder() / "model.ckpt", "in progress");
    leave_leftover("4242-0-killed");

    // Another user of the store must not clean up: the live write might be its own.
    ArtifactStore other(root);
    CHECK(fs::exists(root / "tmp" / "4242-0-killed"));
    CHECK(fs::exists(live.folder()));
    CHECK_FALSE(other.find(key).has_value());
    CHECK(contains(message_of<Error>([&] { other.gc(); }), "in use"));
    CHECK(other.leftover_count() == 2);  // the other's live write is a leftover to it

    // With the store to itself, gc removes the leftover but not its own live write.
    { ArtifactStore closing = std::move(other); }
    const GcReport report = writer.gc();
    CHECK(report.leftovers_removed == 1);
    CHECK_FALSE(fs::exists(root / "tmp" / "4242-0-killed"));
    CHECK(fs::exists(live.folder() / "model.ckpt"));
    CHECK(writer.leftover_count() == 0);
    live.commit();
    CHECK(writer.find(key_of("live")).has_value());
  }
  // Opening a store nobody else uses removes leftovers too; StoreCleanup::Never does not.
  leave_leftover("4243-7-killed");
  {
    ArtifactStore looker(root, StoreCleanup::Never);
    CHECK(looker.leftover_count() == 1);
    CHECK_FALSE(looker.find(key).has_value());
  }
  ArtifactStore reopened(root);
  CHECK(names_in(root / "tmp").empty());
  CHECK_FALSE(reopened.find(key).has_value());
}

TEST_CASE("artifact store: concurrent commits of one key end with one complete artifact") {
  TempDir dir;
  const fs::path root = dir / "store";
  const std::string key = key_of("contended");
  constexpr int kWriters = 4;
  constexpr std::size_t kBytes = 1 << 18;

  // One store object shared by the threads, or one each (as separate processes would).
  for (const bool shared_object : {true, false}) {
    CAPTURE(shared_object);
    {
      ArtifactStore cleaner(root);
      if (cleaner.find(key)) cleaner.remove({{key.substr(0, 8)}, "", false});
    }
    ArtifactStore shared(root);
    std::latch start(kWriters);
    std::vector<fs::path> results(kWriters);
    std::vector<std::string> failures(kWriters);
    std::vector<std::thread> threads;
    for (int writer = 0; writer < kWriters; ++writer) {
      threads.emplace_back([&, writer] {
        try {
          std::optional<ArtifactStore> own;
          if (!shared_object) own.emplace(root);
          ArtifactStore& store = shared_object ? shared : *own;
          PendingArtifact pending = store.begin(key, {"train", "writer", {}});
          // Different bytes per writer, so that a mix of two would show.
          write_file_atomically(pending.folder() / "model.ckpt",
                                std::string(kBytes, static_cast<char>('a' + writer)));
          write_file_atomically(pending.folder() / "epochs.csv", std::to_string(writer));
          start.arrive_and_wait();
          results[writer] = pending.commit();
        } catch (const std::exception& e) {
          failures[writer] = e.what();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const std::string& failure : failures) CHECK(failure.empty());
    const fs::path expected = root / "objects" / key.substr(0, 2) / key;
    for (const fs::path& result : results) CHECK(result == expected);

    CHECK(objects_in(root) == std::vector<std::string>{key.substr(0, 2) + "/" + key});
    CHECK(names_in(root / "tmp").empty());
    const auto found = shared.find(key);
    REQUIRE(found.has_value());
    const std::string model = read_file(*found / "model.ckpt");
    REQUIRE(model.size() == kBytes);
    const int winner = model[0] - 'a';
    CHECK(model == std::string(kBytes, model[0]));
    CHECK(read_file(*found / "epochs.csv") == std::to_string(winner));
    CHECK_FALSE(shared.inspect(key)->damaged());
  }
}

TEST_CASE("artifact store: a damaged entry is never returned and the next commit replaces it") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string key = key_of("damaged");
  const fs::path folder = store.root() / "objects" / key.substr(0, 2) / key;

  SUBCASE("artifact.txt missing (a copy interrupted, or files removed by hand)") {
    fs::create_directories(folder);
    write_file_atomically(folder / "result.txt", "content");
    CHECK(contains(store.inspect(key)->damage, "no artifact.txt"));
  }
  SUBCASE("artifact.txt naming another key (a folder copied by hand)") {
    const std::string other = key_of("other");
    const fs::path source = commit_artifact(store, other, "train", "other");
    fs::create_directories(folder.parent_path());
    fs::copy(source, folder, fs::copy_options::recursive);
    CHECK(contains(store.inspect(key)->damage, "names another key"));
  }
  SUBCASE("a file shorter than recorded") {
    commit_artifact(store, key, "train", "truncated");
    REQUIRE(store.find(key).has_value());
    fs::resize_file(folder / "result.txt", 3);
    CHECK(contains(store.inspect(key)->damage, "has 3 bytes"));
  }
  SUBCASE("a file missing") {
    commit_artifact(store, key, "train", "missing file");
    fs::remove(folder / "result.txt");
    CHECK(contains(store.inspect(key)->damage, "missing"));
  }
  SUBCASE("artifact.txt truncated") {
    commit_artifact(store, key, "train", "truncated record");
    const std::string record = read_file(folder / "artifact.txt");
    write_file_atomically(folder / "artifact.txt", record.substr(0, 40));
    CHECK(store.inspect(key)->damaged());
  }

  CHECK_FALSE(store.find(key).has_value());
  CHECK(store.list().back().damaged());
  const fs::path replaced = commit_artifact(store, key, "train", "fresh", {}, "fresh content");
  CHECK(replaced == folder);
  const auto found = store.find(key);
  REQUIRE(found.has_value());
  CHECK(read_file(*found / "result.txt") == "fresh content");
  CHECK(store.inspect(key)->label == "fresh");
  CHECK(names_in(store.root() / "tmp").empty());
}

TEST_CASE("artifact store: gc keeps what run records reach, through input keys, and no more") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string data = key_of("data"), model = key_of("model"), attack = key_of("attack");
  const std::string orphan = key_of("orphan"), orphan_child = key_of("orphan child");
  commit_artifact(store, data, "split", "data");
  commit_artifact(store, model, "train", "model", {data});
  commit_artifact(store, attack, "attack", "attack", {model});
  commit_artifact(store, orphan, "split", "orphan");
  commit_artifact(store, orphan_child, "train", "orphan child", {orphan});
  const std::string damaged = key_of("damaged");
  fs::create_directories(store.root() / "objects" / damaged.substr(0, 2) / damaged);
  fs::create_directories(store.root() / "tmp" / "999999-1-leftover");
  // Only the last node is recorded; its inputs are kept through artifact.txt.
  store.record_run("campaign-1", {attack, attack, key_of("never committed")});
  CHECK(store.run_names() == std::vector<std::string>{"campaign-1"});

  SUBCASE("a dry run only tells") {
    const GcReport report = store.gc({std::nullopt, false, true});
    CHECK(keys_of(report.removed) == std::set<std::string>{orphan, orphan_child, damaged});
    CHECK(report.leftovers_removed == 1);
    CHECK(store.list().size() == 6);
    CHECK(store.leftover_count() == 1);
  }
  SUBCASE("unreferenced, damaged and unfinished are removed") {
    const GcReport report = store.gc();
    CHECK(keys_of(report.removed) == std::set<std::string>{orphan, orphan_child, damaged});
    CHECK(report.kept == 3);
    CHECK(report.run_records == 1);
    CHECK(report.leftovers_removed == 1);
    CHECK(keys_of(store.list()) == std::set<std::string>{data, model, attack});
    CHECK(store.find(data).has_value());
    CHECK(names_in(store.root() / "tmp").empty());
    CHECK(objects_in(store.root()).size() == 3);  // and no empty shard folders either
    CHECK(names_in(store.root() / "objects").size() <= 3);

    // Not used for 10 days: gone with unused_for, even though a run reaches it.
    age_artifact(*store.find(model), std::chrono::hours(24 * 10));
    const GcReport stale = store.gc({std::chrono::hours(24), false, false});
    CHECK(keys_of(stale.removed) == std::set<std::string>{model});
    CHECK(keys_of(store.list()) == std::set<std::string>{data, attack});

    // Everything: all artifacts go, run records stay.
    const GcReport all = store.gc({std::nullopt, true, false});
    CHECK(all.removed.size() == 2);
    CHECK(store.list().empty());
    CHECK(store.run_names() == std::vector<std::string>{"campaign-1"});
  }
}

TEST_CASE("artifact store: gc removes nothing while a run record is malformed") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string orphan = key_of("orphan");
  commit_artifact(store, orphan, "train", "orphan");
  write_file_atomically(store.root() / "runs" / "broken.txt", "# comment\n\nnot-a-key\n");
  const std::string message = message_of<DataError>([&] { store.gc(); });
  CHECK(contains(message, "broken.txt, line 3"));
  CHECK(contains(message, "not-a-key"));
  CHECK(store.find(orphan).has_value());
}

TEST_CASE("artifact store: rm removes by unambiguous key prefix and by kind") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string first = key_starting("abcd1", '0'), second = key_starting("abcd2", '0');
  const std::string model = key_starting("ef01", '1'), other_model = key_starting("ef02", '2');
  commit_artifact(store, first, "split", "first");
  commit_artifact(store, second, "split", "second");
  commit_artifact(store, model, "train", "model");
  commit_artifact(store, other_model, "train", "other model");

  CHECK(contains(message_of<ConfigError>([&] {
                   store.remove({{"abcd"}, "", false});
                 }),
                 "ambiguous"));
  CHECK(contains(message_of<ConfigError>([&] {
                   store.remove({{"abc"}, "", false});
                 }),
                 "not a key prefix"));
  CHECK(contains(message_of<ConfigError>([&] {
                   store.remove({{"abcx1"}, "", false});
                 }),
                 "not a key prefix"));
  CHECK(contains(message_of<ConfigError>([&] { store.remove({{}, "", false}); }), "say which"));
  CHECK(contains(message_of<NotFoundError>([&] {
                   store.remove({{"ffff"}, "", false});
                 }),
                 "'ffff'"));
  CHECK(contains(message_of<NotFoundError>([&] {
                   store.remove({{}, "trian", false});
                 }),
                 "did you mean 'train'"));
  // A prefix and a kind that do not meet: nothing of kind train starts with abcd1.
  CHECK_THROWS_AS(store.remove({{"abcd1"}, "train", false}), NotFoundError);
  CHECK(store.list().size() == 4);  // failed selections remove nothing

  const auto dry = store.remove({{"ABCD1"}, "", true});
  REQUIRE(dry.size() == 1);
  CHECK(dry[0].key == first);
  CHECK(store.find(first).has_value());

  const auto removed = store.remove({{"ABCD1"}, "", false});
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].key == first);
  CHECK_FALSE(store.find(first).has_value());
  CHECK(store.find(second).has_value());

  const auto trains = store.remove({{}, "train", false});
  CHECK(keys_of(trains) == std::set<std::string>{model, other_model});
  CHECK(keys_of(store.list()) == std::set<std::string>{second});
}

TEST_CASE("artifact store: ls lists key, kind, label, size and age, sorted by kind and label") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string model = key_of("model");
  commit_artifact(store, model, "train", "mlp seed=1", {}, std::string(3000, 'x'));
  commit_artifact(store, key_of("split"), "split", "fashion-mnist halves");
  commit_artifact(store, key_of("attack"), "attack", "lira 16 shadows");
  const std::string damaged = key_of("damaged");
  fs::create_directories(store.root() / "objects" / damaged.substr(0, 2) / damaged);

  const auto entries = store.list();
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].kind == "attack");
  CHECK(entries[1].kind == "split");
  CHECK(entries[2].kind == "train");
  CHECK(entries[3].damaged());

  const std::string table = format_artifact_table(entries, std::chrono::system_clock::now());
  CHECK(table.rfind("KEY ", 0) == 0);
  CHECK(contains(table, "KIND"));
  CHECK(contains(table, "LABEL"));
  const std::size_t row = table.find("\n" + model.substr(0, 12) + "  ");
  REQUIRE(row != std::string::npos);
  const std::string line = table.substr(row + 1, table.find('\n', row + 1) - row - 1);
  CHECK(contains(line, "  train  "));
  CHECK(contains(line, " mlp seed=1 "));
  CHECK(contains(line, " 2.9 KiB "));
  CHECK_FALSE(contains(table, model.substr(0, 13)));
  CHECK(contains(table, "fashion-mnist halves"));
  CHECK(contains(table, "0 s"));
  CHECK(contains(table, "\n" + damaged.substr(0, 12) + "  damaged  no artifact.txt"));
  CHECK(contains(table, "\n3 artifacts, "));
  CHECK(contains(table, "1 damaged entry"));
  CHECK(table.find("attack") < table.find("split"));
  CHECK(table.find("split") < table.find("mlp seed=1"));

  CHECK(format_artifact_table({}, std::chrono::system_clock::now()) == "No artifacts.\n");
  CHECK(format_size(512) == "512 B");
  CHECK(format_size(1536) == "1.5 KiB");
  CHECK(format_size(std::uint64_t{3} << 30) == "3.0 GiB");
  CHECK(format_age(std::chrono::seconds(42)) == "42 s");
  CHECK(format_age(std::chrono::minutes(17)) == "17 min");
  CHECK(format_age(std::chrono::hours(5)) == "5 h");
  CHECK(format_age(std::chrono::hours(24 * 12)) == "12 d");
  CHECK(format_age(-std::chrono::hours(1)) == "0 s");
}

TEST_CASE("artifact store: a commit that fails for a full disk publishes nothing") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string key = key_of("full disk");
  std::string message;
  {
    PendingArtifact pending = store.begin(key, {"train", "big", {}});
    write_file_atomically(pending.folder() / "model.ckpt", "weights");
    {
      // artifact.txt (over 100 bytes) cannot be written whole.
      testing::FileSizeLimit limit(64);
      message = message_of<Error>([&] { pending.commit(); });
    }
    CHECK_FALSE(pending.committed());
    CHECK(objects_in(store.root()).empty());
    CHECK_FALSE(store.find(key).has_value());
  }
  CHECK(contains(message, "cannot commit artifact " + key));
  CHECK(contains(message, "artifact.txt"));
  CHECK(contains(message, "too large"));
  CHECK(names_in(store.root() / "tmp").empty());
}

TEST_CASE("artifact store: bad input gets a clear error") {
  TempDir dir;
  ArtifactStore store(dir / "store");
  const std::string key = key_of("k");

  CHECK(contains(message_of<Error>([&] { store.find("abc"); }), "not an artifact key"));
  CHECK(contains(message_of<Error>([&] { store.begin(key, {"Train", "", {}}); }), "kind"));
  CHECK(contains(message_of<Error>([&] {
                   store.begin(key, {"train", "", {"xyz"}});
                 }),
                 "input key 'xyz'"));
  CHECK(
      contains(message_of<ConfigError>([&] { store.record_run("../escape", {key}); }), "run name"));
  CHECK(contains(message_of<ConfigError>([&] { store.record_run(".hidden", {key}); }), "run name"));
  CHECK(contains(message_of<ConfigError>([&] { store.record_run("a/b", {key}); }), "run name"));
  store.record_run("sweep 2 (pruning+dp)", {key});  // any file name will do
  CHECK(store.run_names() == std::vector<std::string>{"sweep 2 (pruning+dp)"});

  {
    PendingArtifact pending = store.begin(key, {"train", "", {}});
    write_file_atomically(pending.folder() / "artifact.txt", "mine");
    CHECK(contains(message_of<Error>([&] { pending.commit(); }), "reserved"));
  }
  {
    PendingArtifact pending = store.begin(key, {"train", "", {}});
    fs::create_symlink("/etc/hostname", pending.folder() / "link");
    CHECK(contains(message_of<Error>([&] { pending.commit(); }), "symbolic link"));
  }
  CHECK(objects_in(store.root()).empty());
  CHECK(names_in(store.root() / "tmp").empty());

  // A folder that is not a store is never taken over.
  fs::create_directories(dir / "results");
  write_file_atomically(dir / "results" / "summary.txt", "precious");
  const std::string message =
      message_of<ConfigError>([&] { ArtifactStore wrong(dir / "results"); });
  CHECK(contains(message, "no store.txt"));
  CHECK(contains(message, "summary.txt"));
  CHECK(ArtifactStore::exists(dir / "store"));
  CHECK_FALSE(ArtifactStore::exists(dir / "results"));
  // A file where the store should be.
  CHECK_THROWS_AS(ArtifactStore(dir / "results" / "summary.txt"), Error);
}
