// tile_delay.sv -- a delay line of DEPTH stages of WIDTH bits that shifts when `en` is high;
// dout is the input from DEPTH enabled cycles ago.
//
// Why it exists: the matmul array's input skew (row r of A and, output-stationary, column c of
// B enter r or c steps late). Only the end of the line is used, so it has its own module rather
// than tile_shift.sv with unused taps.
module tile_delay #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 1
) (
    input  logic             clk,
    input  logic             clear,   // zero every stage (takes priority over en)
    input  logic             en,
    input  logic [WIDTH-1:0] din,
    output logic [WIDTH-1:0] dout
);
    logic [WIDTH*DEPTH-1:0] line_q;   // stage d in line_q[WIDTH*d +: WIDTH], newest at d = 0
    assign dout = line_q[WIDTH*DEPTH-1 -: WIDTH];
    if (DEPTH == 1) begin : g_one
        always_ff @(posedge clk) begin
            if (clear)
                line_q <= '0;
            else if (en)
                line_q <= din;
        end
    end else begin : g_many
        always_ff @(posedge clk) begin
            if (clear)
                line_q <= '0;
            else if (en)
                line_q <= {line_q[WIDTH*(DEPTH-1)-1:0], din};
        end
    end
endmodule
