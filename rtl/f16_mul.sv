// f16_mul.sv -- the product of two IEEE binary16 values as a binary32, exactly: 11-bit by 11-bit
// significands make at most 22 bits (binary32 keeps 24), and the exponents stay inside binary32's
// normal range (2^-48 .. 2^32), so no rounding ever happens. Infinities follow IEEE; any NaN
// result (a NaN operand, or infinity times zero) is the canonical quiet NaN 0x7fc00000.
// Combinational.
//
// Why it exists: the multiplier of each PE in the matmul array's f16 mode (rtl/mm_pe.sv); it
// equals the host's (float)a * (float)b of two binary16 values (tests/rtl/test_fp_units_rtl.c).
module f16_mul (
    input  logic [15:0] a,
    input  logic [15:0] b,
    output logic [31:0] y
);
    localparam logic [31:0] QNAN = 32'h7fc00000;
    localparam logic [4:0]  EMAX = 5'h1f;
    // a binary16 significand m (hidden bit included) with exponent field e is m * 2^(e - 25);
    // the product P * 2^(ea + eb - 50) has its leading bit at 2^(msb + ea + eb - 50), so its
    // binary32 exponent field is msb + ea + eb - 50 + 127
    localparam int EXP_OFFSET = 127 - 50;

    logic       sa, sb, s;
    logic [4:0] ea, eb, ea1, eb1;
    logic [9:0] fa, fb;
    assign {sa, ea, fa} = a;
    assign {sb, eb, fb} = b;
    assign s   = sa ^ sb;
    assign ea1 = ea == 5'd0 ? 5'd1 : ea;
    assign eb1 = eb == 5'd0 ? 5'd1 : eb;

    logic a_nan, b_nan, a_inf, b_inf, a_zero, b_zero;
    assign a_nan  = ea == EMAX && fa != 10'd0;
    assign b_nan  = eb == EMAX && fb != 10'd0;
    assign a_inf  = ea == EMAX && fa == 10'd0;
    assign b_inf  = eb == EMAX && fb == 10'd0;
    assign a_zero = ea == 5'd0 && fa == 10'd0;
    assign b_zero = eb == 5'd0 && fb == 10'd0;

    logic [21:0] p;
    assign p = 22'({ea != 5'd0, fa}) * 22'({eb != 5'd0, fb});

    logic [4:0] msb;
    always_comb begin
        msb = 5'd0;
        for (int i = 0; i < 22; i++)
            if (p[i])
                msb = 5'(i);
    end

    logic [7:0]  e;
    logic [22:0] frac;     // p shifted so that its leading bit is the (dropped) hidden bit 23
    assign e    = 8'(32'(msb) + 32'(ea1) + 32'(eb1) + EXP_OFFSET);
    assign frac = 23'({24'd0, p} << (5'd23 - msb));

    always_comb begin
        if (a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero))
            y = QNAN;
        else if (a_inf || b_inf)
            y = {s, 8'hff, 23'd0};
        else if (a_zero || b_zero)
            y = {s, 31'd0};
        else
            y = {s, e, frac};
    end
endmodule
