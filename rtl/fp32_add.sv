// fp32_add.sv -- IEEE binary32 addition: round to nearest, ties to even; subnormals in and out;
// infinities; any NaN result is the canonical quiet NaN 0x7fc00000. Combinational.
//
// Why it exists: the matmul array's f16 mode sums exact f16 products in f32 (isa_mm_f16_mac in
// isa/isa_exec.c), one add per PE per step; this is that adder. It matches the host's binary32
// addition bit for bit (tests/rtl/test_fp_units_rtl.c compares it with C on random and edge
// operands).
//
// How: the larger magnitude x and the smaller y (exponent 1 for subnormals, hidden bit 0); y is
// shifted right by the exponent difference into 27 bits (24 significand + guard, round, sticky),
// added or subtracted, normalised (right by one on a carry; left by the leading zeros, but never
// below exponent 1, which leaves a subnormal), rounded to nearest even, and packed.
module fp32_add (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] y
);
    localparam logic [31:0] QNAN = 32'h7fc00000;
    localparam logic [7:0]  EMAX = 8'hff;
    localparam int          W    = 27;   // significand (24) + guard + round + sticky

    logic        sa, sb;
    logic [7:0]  ea, eb;
    logic [22:0] fa, fb;
    assign {sa, ea, fa} = a;
    assign {sb, eb, fb} = b;

    logic a_nan, b_nan, a_inf, b_inf;
    assign a_nan = ea == EMAX && fa != 23'd0;
    assign b_nan = eb == EMAX && fb != 23'd0;
    assign a_inf = ea == EMAX && fa == 23'd0;
    assign b_inf = eb == EMAX && fb == 23'd0;

    // x: the operand of larger magnitude (a on a tie)
    logic        swap, sx, sy;
    logic [7:0]  ex, ey;
    logic [22:0] fx, fy;
    assign swap = {eb, fb} > {ea, fa};
    assign {sx, ex, fx} = swap ? b : a;
    assign {sy, ey, fy} = swap ? a : b;

    logic [7:0]   ex1, ey1, d;
    logic [W-1:0] xs, y0, ys;
    logic         ystk;
    assign ex1 = ex == 8'd0 ? 8'd1 : ex;
    assign ey1 = ey == 8'd0 ? 8'd1 : ey;
    assign d   = ex1 - ey1;
    assign xs  = {ex != 8'd0, fx, 3'b000};
    assign y0  = {ey != 8'd0, fy, 3'b000};
    always_comb begin
        if (d >= 8'(W)) begin
            ys   = '0;
            ystk = y0 != '0;
        end else begin
            ys   = y0 >> d;
            ystk = (y0 & ((W'(1) << d) - W'(1))) != '0;
        end
    end

    logic         sub;
    logic [W:0]   s;
    assign sub = sx ^ sy;
    assign s   = sub ? {1'b0, xs} - {1'b0, ys[W-1:1], ys[0] | ystk}
                     : {1'b0, xs} + {1'b0, ys[W-1:1], ys[0] | ystk};

    // leading zeros of s[W-1:0]
    logic [4:0] lz;
    always_comb begin
        lz = 5'(W);
        for (int i = 0; i < W; i++)
            if (s[i])
                lz = 5'(W - 1 - i);
    end

    logic [9:0]   e;       // exponent of m[W-1] (signed headroom for the checks)
    logic [W-1:0] m;       // normalised: m[W-1] is the hidden bit, unless subnormal
    logic [4:0]   shl;
    always_comb begin
        shl = 5'd0;
        if (s[W]) begin    // carry out of the addition: one to the right, the lost bit is sticky
            m = {s[W:2], s[1] | s[0]};
            e = 10'(ex1) + 10'd1;
        end else begin
            shl = 10'(lz) < 10'(ex1) - 10'd1 ? lz : 5'(ex1 - 8'd1);
            m   = s[W-1:0] << shl;
            e   = 10'(ex1) - 10'(shl);
        end
    end

    logic        up;
    logic [24:0] rounded;  // the significand after rounding, with its carry
    logic [9:0]  er;
    logic [23:0] sig;
    assign up      = m[2] & (m[1] | m[0] | m[3]);
    assign rounded = {1'b0, m[W-1:3]} + {24'd0, up};
    assign er      = rounded[24] ? e + 10'd1 : e;
    assign sig     = rounded[24] ? rounded[24:1] : rounded[23:0];

    always_comb begin
        if (a_nan || b_nan || (a_inf && b_inf && sa != sb))
            y = QNAN;
        else if (a_inf)
            y = a;
        else if (b_inf)
            y = b;
        else if (s == '0)
            y = {sub ? 1'b0 : sx, 31'd0};         // x - x = +0; (-0) + (-0) = -0
        else if (er >= 10'(EMAX))
            y = {sx, EMAX, 23'd0};                // overflow: infinity
        else
            y = {sx, sig[23] ? er[7:0] : 8'd0, sig[22:0]};  // no hidden bit: subnormal
    end
endmodule
