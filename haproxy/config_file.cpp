#include "haproxy/config_file.h"

#include "haproxy/config_lines.h"

#include <algorithm>
#include <array>
#include <optional>

namespace bluegreen::haproxy {
namespace {

using bluegreen::Error;

using Word = ConfigWord;
using Line = ConfigLine;

std::vector<Line> split_lines(std::string_view text) { return split_config_lines(text); }
std::vector<Word> split_words(std::string_view text) { return split_config_words(text); }

std::string word_value(const Line& line, std::size_t index) {
  return index < line.words.size() ? line.words[index].value : std::string{};
}

std::string normalise_words(std::string_view text) {
  Line line;
  line.text = text;
  line.words = split_words(text);
  return raw_words_from(line, 0);
}

std::string section_label(const Line& line) {
  std::string label = word_value(line, 0);
  if (line.words.size() > 1) label += " " + line.words[1].value;
  return label;
}

std::string join_numbers(const std::vector<const Line*>& lines) {
  std::string joined;
  for (const Line* line : lines) {
    if (!joined.empty()) joined += ", ";
    joined += std::to_string(line->number);
  }
  return joined;
}

std::string describe(const Selector& selector) {
  std::string text = "`" + selector.directive;
  if (selector.directive == "use_backend") {
    text += " <backend>";
    const std::string condition = normalise_words(selector.condition);
    if (!condition.empty()) text += " " + condition;
  }
  return text + "`";
}

struct Located {
  std::vector<Line> lines;
  std::size_t index = 0;  // of the selected line in `lines`
  [[nodiscard]] const Line& line() const { return lines[index]; }
};

bluegreen::Result<Located> locate(std::string_view config_text, const Selector& selector) {
  if (selector.directive != "default_backend" && selector.directive != "use_backend") {
    return Error{"HAProxy selector: directive `" + selector.directive +
                 "` is not supported; expected `default_backend` or `use_backend`"};
  }
  const std::string condition = normalise_words(selector.condition);
  if (selector.directive == "default_backend" && !condition.empty()) {
    return Error{"HAProxy selector: a condition (`" + condition +
                 "`) only applies to `use_backend`; `default_backend` takes none"};
  }
  const std::vector<Word> section_words = split_words(selector.section);
  if (section_words.empty() || section_words.size() > 2 || !is_section_keyword(section_words[0].value)) {
    return Error{"HAProxy selector: section `" + selector.section +
                 "` must be a section keyword and a name, e.g. `frontend fe_app` or `listen www`"};
  }
  const std::string wanted_keyword = section_words[0].value;
  const std::string wanted_name = section_words.size() > 1 ? section_words[1].value : std::string{};
  const std::string wanted_label = wanted_name.empty() ? wanted_keyword : wanted_keyword + " " + wanted_name;

  Located located;
  located.lines = split_lines(config_text);

  std::vector<const Line*> section_starts;
  std::vector<std::string> all_sections;
  std::vector<const Line*> matches;
  std::vector<const Line*> other_conditions;
  bool inside = false;
  for (const Line& line : located.lines) {
    if (line.words.empty()) continue;
    const std::string& first = line.words[0].value;
    if (is_section_keyword(first)) {
      all_sections.push_back(section_label(line));
      inside = first == wanted_keyword && word_value(line, 1) == wanted_name;
      if (inside) section_starts.push_back(&line);
      continue;
    }
    if (!inside || first != selector.directive) continue;
    if (selector.directive == "use_backend" && raw_words_from(line, 2) != condition) {
      other_conditions.push_back(&line);
      continue;
    }
    matches.push_back(&line);
  }

  if (section_starts.empty()) {
    std::string present;
    for (const auto& label : all_sections) present += (present.empty() ? "" : ", ") + label;
    return Error{"HAProxy configuration: section `" + wanted_label +
                 "` not found (sections present: " + (present.empty() ? std::string("none") : present) + ")"};
  }
  if (section_starts.size() > 1) {
    return Error{"HAProxy configuration: section `" + wanted_label + "` appears " +
                 std::to_string(section_starts.size()) + " times (lines " + join_numbers(section_starts) +
                 "); cannot tell which one selects the live backend"};
  }
  if (matches.empty()) {
    std::string message = "HAProxy configuration: no " + describe(selector) + " line in section `" + wanted_label +
                          "` (which starts at line " + std::to_string(section_starts.front()->number) + ")";
    if (!other_conditions.empty()) {
      message += "; `use_backend` lines with other conditions:";
      for (const Line* other : other_conditions) {
        const std::string other_condition = raw_words_from(*other, 2);
        message += " line " + std::to_string(other->number) + " `" +
                   (other_condition.empty() ? std::string("(no condition)") : other_condition) + "`;";
      }
      message.pop_back();
    }
    return Error{message};
  }
  if (matches.size() > 1) {
    return Error{"HAProxy configuration: ambiguous: " + std::to_string(matches.size()) + " " + describe(selector) +
                 " lines in section `" + wanted_label + "` (lines " + join_numbers(matches) +
                 "); exactly one must select the live backend"};
  }
  if (matches.front()->words.size() < 2 || matches.front()->words[1].value.empty()) {
    return Error{"HAProxy configuration: line " + std::to_string(matches.front()->number) + " `" +
                 std::string(matches.front()->text) + "` names no backend"};
  }
  located.index = matches.front()->number - 1;
  return located;
}

bool is_backend_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

}  // namespace

bluegreen::Result<LiveSelection> find_live_backend(std::string_view config_text, const Selector& selector) {
  auto located = locate(config_text, selector);
  if (!located) return located.error();
  const Line& line = located->line();
  return LiveSelection{line.number, std::string(line.text), line.words[1].value};
}

bluegreen::Result<std::string> rewrite_live_backend(std::string_view config_text, const Selector& selector,
                                                    std::string_view new_backend) {
  if (new_backend.empty() || !std::all_of(new_backend.begin(), new_backend.end(), is_backend_name_char)) {
    std::string shown;
    for (const char c : new_backend.substr(0, 80)) {
      shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    return Error{"backend name `" + shown +
                 "` is not acceptable; expected letters, digits and . _ : - (at least one character)"};
  }
  auto located = locate(config_text, selector);
  if (!located) return located.error();

  const std::vector<std::string> defined = backend_names(config_text);
  if (std::find(defined.begin(), defined.end(), new_backend) == defined.end()) {
    std::string known;
    for (const auto& name : defined) known += (known.empty() ? "" : ", ") + name;
    return Error{
        "backend `" + std::string(new_backend) + "` is not defined in the HAProxy configuration (no `backend " +
        std::string(new_backend) + "` or `listen " + std::string(new_backend) +
        "` section; defined: " + (known.empty() ? std::string("none") : known) + "); refusing to point traffic at it"};
  }

  // Splice over the raw backend word only (quotes included), so indentation, spacing, the
  // condition and any trailing comment stay exactly as the operator wrote them.
  const Line& line = located->line();
  const Word& backend_word = line.words[1];
  std::string rewritten(config_text.substr(0, line.offset + backend_word.begin));
  rewritten += new_backend;
  rewritten += config_text.substr(line.offset + backend_word.end);
  return rewritten;
}

std::vector<std::string> backend_names(std::string_view config_text) {
  std::vector<std::string> names;
  for (const Line& line : split_lines(config_text)) {
    if (line.words.size() < 2) continue;
    const std::string& keyword = line.words[0].value;
    if (keyword != "backend" && keyword != "listen") continue;
    const std::string& name = line.words[1].value;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace bluegreen::haproxy
