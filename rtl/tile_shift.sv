// tile_shift.sv -- a delay line of DEPTH stages of WIDTH bits that shifts when `en` is high,
// with every stage visible.
//
// Why it exists: the matmul tile's weight-stationary output deskew picks, per column, the stage
// that matches the instruction's n; a module keeps that a plain shift register instead of a loop
// of non-blocking array writes (which Verilator 5.006 handles poorly). tile_delay.sv is the same
// line when only its end is needed.
// taps[WIDTH*d +: WIDTH] holds the input from d+1 enabled cycles ago.
module tile_shift #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 1
) (
    input  logic                   clk,
    input  logic                   clear,   // zero every stage (takes priority over en)
    input  logic                   en,
    input  logic [WIDTH-1:0]       din,
    output logic [WIDTH*DEPTH-1:0] taps
);
    if (DEPTH == 1) begin : g_one
        always_ff @(posedge clk) begin
            if (clear)
                taps <= '0;
            else if (en)
                taps <= din;
        end
    end else begin : g_many
        always_ff @(posedge clk) begin
            if (clear)
                taps <= '0;
            else if (en)
                taps <= {taps[WIDTH*(DEPTH-1)-1:0], din};
        end
    end
endmodule
