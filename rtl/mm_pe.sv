// mm_pe.sv -- one processing element of the matmul systolic array (see mm_tile.sv).
//
// Why a module of its own: the array is a generate grid of these, one always_ff per PE
// (Verilator 5.006 rejects large nested for-loops of non-blocking array writes), and the same
// PE serves both dataflows so that one array does both:
//   output-stationary (ws = 0): acc += a_in * b_in; a moves right, b moves down. In the drain,
//                                acc takes the accumulator of the PE below, so result rows leave
//                                the array through row 0, one per step.
//   weight-stationary (ws = 1): b_q holds the weight. While the weights load (load_w) the weight
//                                column shifts down one PE per step and the product uses the
//                                weight arriving from above; afterwards acc = psum_in (the
//                                partial sum of the PE above, 0 in row 0) + a_in * weight.
// Operands are 16-bit lanes. Integer mode (fmode = 0): sign-extended integers (int8, int4 or
// int16; the ISA allows at most one 16-bit operand, so every product fits 24 bits); products
// exact, the INT32 accumulation wraps (two's complement), as isa_exec.c specifies. Float mode
// (fmode = 1): binary16 lanes; the product is exact in binary32 (f16_mul) and the accumulation is
// binary32, round to nearest even (fp32_add): acc = canon(acc + canon(a * b)), isa_mm_f16_mac.
module mm_pe (
    input  logic        clk,
    input  logic        clear,      // instruction issue: zero every register (+0.0 in float mode)
    input  logic        step,       // the array advances this cycle (all PEs together)
    input  logic        ws,         // 1: weight-stationary dataflow
    input  logic        fmode,      // 1: binary16 operands, binary32 accumulation
    input  logic        load_w,     // ws: the weights shift down this step
    input  logic        drain,      // os: shift the accumulators up one row this step
    input  logic [15:0] a_in,       // from the left neighbour (or the array's left edge)
    input  logic [15:0] b_in,       // from the PE above (or the array's top edge)
    input  logic [31:0] psum_in,    // ws: partial sum from the PE above
    input  logic [31:0] acc_below,  // os drain: accumulator of the PE below
    output logic [15:0] a_q,
    output logic [15:0] b_q,
    output logic [31:0] acc_q
);
    logic        use_b_in;
    logic [15:0] mul_b;
    logic [31:0] iprod, base, fprod, fsum;

    assign use_b_in = !ws || load_w;
    assign mul_b    = use_b_in ? b_in : b_q;
    assign iprod    = 32'($signed(a_in)) * 32'($signed(mul_b));
    assign base     = ws ? psum_in : acc_q;

    f16_mul mul (.a(a_in), .b(mul_b), .y(fprod));
    fp32_add add (.a(base), .b(fprod), .y(fsum));

    always_ff @(posedge clk) begin
        if (clear) begin
            a_q   <= '0;
            b_q   <= '0;
            acc_q <= '0;
        end else if (step) begin
            a_q <= a_in;
            if (use_b_in)
                b_q <= b_in;
            acc_q <= drain ? acc_below : fmode ? fsum : base + iprod;
        end
    end
endmodule
