/* isa/ISA.md must be exactly what the table generates: the page and the table never disagree. */
#include "test_util.h"

#include "isa_doc.h"

static void test_reference_page_matches_table(void **state)
{
    (void)state;
    test_generated_page_matches(isa_doc_write, "isa/ISA.md", "build/bin/isa-doc > isa/ISA.md");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_page_matches_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
