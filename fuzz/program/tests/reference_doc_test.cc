// docs/PROGRAM-FORMAT.md carries the reference tables rendered from
// op_table.h; this keeps them from drifting apart.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "reservoir/program/op_reference.h"

namespace reservoir::program {
namespace {

std::string ReadDoc() {
  std::ifstream in(RESERVOIR_PROGRAM_FORMAT_DOC);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ReferenceDoc, ContainsTheArgumentTypeTable) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << RESERVOIR_PROGRAM_FORMAT_DOC;
  EXPECT_NE(doc.find(ArgTypeReferenceMarkdown()), std::string::npos)
      << "regenerate the table in docs/PROGRAM-FORMAT.md:\n"
      << ArgTypeReferenceMarkdown();
}

TEST(ReferenceDoc, ContainsTheOperationTable) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << RESERVOIR_PROGRAM_FORMAT_DOC;
  EXPECT_NE(doc.find(OpReferenceMarkdown()), std::string::npos)
      << "regenerate the table in docs/PROGRAM-FORMAT.md:\n"
      << OpReferenceMarkdown();
}

}  // namespace
}  // namespace reservoir::program
