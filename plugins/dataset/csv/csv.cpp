// Tabular data from delimited text: numeric features and an integer label column.
#include <torch/torch.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <secateurs/sdk.h>

namespace {

using secateurs::DataError;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The whole cell as a number of type T, one optional leading '+' allowed.
template <class T>
bool parse_whole(std::string_view text, T& value) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) return false;
  }
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// The largest class index a label may have: a column of identifiers mistaken for labels
// would otherwise ask for billions of classes.
constexpr std::int64_t kMaxClasses = 1000000;

class CsvDataset final : public secateurs::Dataset {
 public:
  explicit CsvDataset(const secateurs::Params& params)
      : path_(params.get_string("path")),
        label_column_(params.get_int("label_column")),
        header_(params.get_bool("header")),
        label_base_(params.get_int("label_base")),
        num_classes_(params.get_int("num_classes")) {
    const std::string& delimiter = params.get_string("delimiter");
    if (delimiter.size() != 1) {
      throw secateurs::ConfigError(
          "dataset.csv: parameter 'delimiter' must be one character, got '" + delimiter + "'");
    }
    delimiter_ = delimiter[0];
    if (num_classes_ == 1) {
      throw secateurs::ConfigError(
          "dataset.csv: parameter 'num_classes' must be 0 (from the labels) or at least 2, got 1");
    }
  }

  secateurs::LabeledData load(secateurs::Context&) override {
    std::ifstream in(path_);
    if (!in) throw DataError(path_ + ": cannot open the file");
    std::vector<float> features;
    std::vector<std::int64_t> labels;
    std::int64_t columns = -1;
    std::string line;
    std::vector<std::string_view> cells;
    for (std::int64_t number = 1; std::getline(in, line); ++number) {
      if (number == 1 && header_) continue;
      if (trim(line).empty()) continue;
      const std::string where = path_ + ":" + std::to_string(number) + ": ";
      split(line, cells);
      const auto count = static_cast<std::int64_t>(cells.size());
      if (columns < 0) {
        columns = count;
        if (label_column_ >= columns) {
          throw DataError(where + "label_column " + std::to_string(label_column_) +
                          " is past the last of " + std::to_string(columns) + " columns");
        }
        if (columns < 2) throw DataError(where + "expected a label and features, found 1 column");
      } else if (count != columns) {
        throw DataError(where + "expected " + std::to_string(columns) + " columns, found " +
                        std::to_string(count));
      }
      for (std::int64_t c = 0; c < count; ++c) {
        const std::string_view cell = trim(cells[c]);
        if (c == label_column_) {
          std::int64_t label = 0;
          if (!parse_whole(cell, label)) {
            throw DataError(where + "column " + std::to_string(c) +
                            ": expected an integer label, found '" + std::string(cell) + "'");
          }
          const std::int64_t limit = num_classes_ > 0 ? num_classes_ : kMaxClasses;
          std::int64_t index = 0;
          if (__builtin_sub_overflow(label, label_base_, &index) || index < 0 || index >= limit) {
            const std::string expected =
                num_classes_ > 0 ? "in [" + std::to_string(label_base_) + ", " +
                                       std::to_string(label_base_ + num_classes_) + ")"
                                 : "of at least " + std::to_string(label_base_) + " and below " +
                                       std::to_string(label_base_ + kMaxClasses);
            throw DataError(where + "expected labels " + expected + ", found " +
                            std::to_string(label));
          }
          label = index;
          labels.push_back(label);
        } else {
          // Parsed as double: from_chars<float> calls 1e-50 out of range, where rounding
          // to zero is right; values beyond float32's range are refused by name.
          double value = 0;
          if (!parse_whole(cell, value)) {
            throw DataError(where + "column " + std::to_string(c) + ": expected a number, found '" +
                            std::string(cell) + "'");
          }
          if (!std::isfinite(value) || std::fabs(value) > std::numeric_limits<float>::max()) {
            throw DataError(where + "column " + std::to_string(c) +
                            ": expected a finite float32 number, found '" + std::string(cell) +
                            "'");
          }
          features.push_back(static_cast<float>(value));
        }
      }
    }
    if (in.bad()) throw DataError(path_ + ": read error");
    if (labels.empty()) throw DataError(path_ + ": no data rows");
    const auto rows = static_cast<std::int64_t>(labels.size());
    std::int64_t classes = num_classes_;
    if (classes == 0) classes = *std::max_element(labels.begin(), labels.end()) + 1;
    if (classes < 2) {
      throw DataError(path_ + ": every label is " + std::to_string(label_base_) +
                      "; expected at least two classes");
    }
    return {torch::from_blob(features.data(), {rows, columns - 1}, torch::kFloat32).clone(),
            torch::from_blob(labels.data(), {rows}, torch::kLong).clone(), classes};
  }

 private:
  void split(const std::string& line, std::vector<std::string_view>& cells) const {
    cells.clear();
    std::string_view rest(line);
    while (true) {
      const std::size_t at = rest.find(delimiter_);
      cells.push_back(rest.substr(0, at));
      if (at == std::string_view::npos) break;
      rest.remove_prefix(at + 1);
    }
  }

  std::string path_;
  std::int64_t label_column_;
  bool header_;
  std::int64_t label_base_;
  std::int64_t num_classes_;
  char delimiter_ = ',';
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<CsvDataset>(
      Kind::Dataset, "csv", "Tabular data: numeric features and an integer label column",
      {param::string("path", "", "The delimited text file").make_required(),
       param::integer("label_column", 0, "0-based index of the label column").at_least(0),
       param::boolean("header", false, "Skip the first line"),
       param::string("delimiter", ",", "Column separator, one character"),
       param::integer("label_base", 0, "The file's smallest label value (1 for 1-based classes)")
           .range(-1000000000, 1000000000),
       param::integer("num_classes", 0, "Number of classes; 0: the largest label + 1")
           .range(0, kMaxClasses)});
}

}  // namespace

SECATEURS_PLUGIN("csv", "1.0.0", register_components)
