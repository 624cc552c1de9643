// sm_exp2.sv -- the softmax tile's exponential: e = 2^(u / 4096) in Q1.14 for u <= 0
// (u > 0 is treated as 0), exactly isa_sm_exp2() of isa/isa_exec.c.
//
// Why a module of its own: the softmax tile has one per lane, and the testbenches evaluate this
// unit alone (tile_rtl_sm_exp2) over every u of interest, because a small error here rarely
// reaches the coarse Q0.7 outputs that the tile-level tests compare.
//   ip = floor(u / 4096) = u >>> 12 (<= 0);   f = u - 4096 * ip = u[11:0]
//   p  = T[f >> 7] + (((T[(f >> 7) + 1] - T[f >> 7]) * (f & 127)) >> 7),
//        T[i] = round(16384 * 2^(i/32)), i = 0..32
//   e  = p >> -ip, or 0 when -ip > 15
// Combinational; the tile registers its output.
module sm_exp2 #(
    parameter int UW = 26              // width of u (signed)
) (
    input  logic signed [UW-1:0] u,
    output logic        [14:0]   e     // at most 16384
);
    localparam int FRAC_BITS   = 12;   // u is Q.12
    localparam int INTERP_BITS = 7;    // the low bits interpolated between table entries
    localparam int MAX_SHIFT   = 15;   // beyond this every p (< 2^15) shifts to 0

    function automatic logic [15:0] table_q14(input logic [5:0] i);  // round(16384 * 2^(i/32))
        case (i)
            6'd0: return 16'd16384;   6'd1: return 16'd16743;   6'd2: return 16'd17109;
            6'd3: return 16'd17484;   6'd4: return 16'd17867;   6'd5: return 16'd18258;
            6'd6: return 16'd18658;   6'd7: return 16'd19066;   6'd8: return 16'd19484;
            6'd9: return 16'd19911;   6'd10: return 16'd20347;  6'd11: return 16'd20792;
            6'd12: return 16'd21247;  6'd13: return 16'd21713;  6'd14: return 16'd22188;
            6'd15: return 16'd22674;  6'd16: return 16'd23170;  6'd17: return 16'd23678;
            6'd18: return 16'd24196;  6'd19: return 16'd24726;  6'd20: return 16'd25268;
            6'd21: return 16'd25821;  6'd22: return 16'd26386;  6'd23: return 16'd26964;
            6'd24: return 16'd27554;  6'd25: return 16'd28158;  6'd26: return 16'd28774;
            6'd27: return 16'd29405;  6'd28: return 16'd30048;  6'd29: return 16'd30706;
            6'd30: return 16'd31379;  6'd31: return 16'd32066;  6'd32: return 16'd32768;
            default: return 16'd0;    // not reached: the index is at most 32
        endcase
    endfunction

    logic signed [UW-1:0]           uc;      // min(u, 0)
    logic        [UW-FRAC_BITS-1:0] shift;   // -floor(u / 4096)
    logic        [4:0]              idx;
    logic        [INTERP_BITS-1:0]  fr;
    logic        [15:0]             lo, hi, p;
    logic        [22:0]             slope;   // (hi - lo) * fr: at most 702 * 127

    assign uc    = u > 0 ? '0 : u;
    assign shift = -uc[UW-1:FRAC_BITS];
    assign idx   = uc[FRAC_BITS-1:INTERP_BITS];
    assign fr    = uc[INTERP_BITS-1:0];
    assign lo    = table_q14({1'b0, idx});
    assign hi    = table_q14({1'b0, idx} + 6'd1);
    assign slope = (23'(hi) - 23'(lo)) * 23'(fr);
    assign p     = lo + 16'(slope >> INTERP_BITS);
    assign e     = 32'(shift) > MAX_SHIFT ? '0 : 15'(p >> shift);
endmodule
