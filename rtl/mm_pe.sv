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
// INT8 x INT8 products are exact in 16 bits; the INT32 accumulation wraps (two's complement),
// as isa_exec.c specifies.
module mm_pe (
    input  logic        clk,
    input  logic        clear,      // instruction issue: zero every register
    input  logic        step,       // the array advances this cycle (all PEs together)
    input  logic        ws,         // 1: weight-stationary dataflow
    input  logic        load_w,     // ws: the weights shift down this step
    input  logic        drain,      // os: shift the accumulators up one row this step
    input  logic [7:0]  a_in,       // int8 from the left neighbour (or the array's left edge)
    input  logic [7:0]  b_in,       // int8 from the PE above (or the array's top edge)
    input  logic [31:0] psum_in,    // ws: partial sum from the PE above
    input  logic [31:0] acc_below,  // os drain: accumulator of the PE below
    output logic [7:0]  a_q,
    output logic [7:0]  b_q,
    output logic [31:0] acc_q
);
    logic        use_b_in;
    logic [7:0]  mul_b;
    logic [15:0] prod;
    logic [31:0] base;

    assign use_b_in = !ws || load_w;
    assign mul_b    = use_b_in ? b_in : b_q;
    // Both operands sign-extended to 16 bits: the low 16 bits of the product are exact.
    assign prod     = 16'($signed(a_in)) * 16'($signed(mul_b));
    assign base     = ws ? psum_in : acc_q;

    always_ff @(posedge clk) begin
        if (clear) begin
            a_q   <= '0;
            b_q   <= '0;
            acc_q <= '0;
        end else if (step) begin
            a_q <= a_in;
            if (use_b_in)
                b_q <= b_in;
            acc_q <= drain ? acc_below : base + {{16{prod[15]}}, prod};
        end
    end
endmodule
