/* isa/ISA.md must be exactly what the table generates: the page and the table never disagree. */
#include "test_util.h"

#include "isa_doc.h"

static void test_reference_page_matches_table(void **state)
{
    (void)state;
    char *generated = NULL;
    size_t glen = 0;
    FILE *mem = open_memstream(&generated, &glen);
    assert_non_null(mem);
    isa_doc_write(mem);
    fclose(mem);

    FILE *f = fopen(M4NPU_SOURCE_DIR "/isa/ISA.md", "rb");
    if (!f)
        fail_msg("isa/ISA.md is missing; generate it with build/bin/isa-doc > isa/ISA.md");
    char *page = malloc(glen + 2);
    assert_non_null(page);
    size_t plen = fread(page, 1, glen + 1, f);
    fclose(f);
    if (plen != glen || memcmp(page, generated, glen) != 0) {
        size_t i = 0;
        while (i < plen && i < glen && page[i] == generated[i])
            i++;
        int line = 1;
        for (size_t k = 0; k < i; k++)
            line += generated[k] == '\n';
        fail_msg("isa/ISA.md differs from the table from line %d on; regenerate it with "
                 "build/bin/isa-doc > isa/ISA.md", line);
    }
    free(page);
    free(generated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_page_matches_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
