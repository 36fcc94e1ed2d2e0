// The reference tables of docs/PROGRAM-FORMAT.md (argument types and
// operations), rendered from op_table.h so the docs cannot drift from the
// code: a test checks that the document contains them verbatim.
#pragma once

#include <string>

namespace reservoir::program {

std::string ArgTypeReferenceMarkdown();
std::string OpReferenceMarkdown();

}  // namespace reservoir::program
