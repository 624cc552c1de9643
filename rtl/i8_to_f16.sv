// i8_to_f16.sv -- an 8-bit-class integer (int8, or int4 sign-extended; the low byte of a lane)
// as the binary16 of the same value, exactly (|v| <= 128 has at most 8 significant bits). Zero
// is +0. Combinational.
//
// Why it exists: in the matmul array's f16 mode an integer operand (int8 or int4 weights next to
// f16 activations) enters the PEs as binary16 (isa/isa_table.def `mm`: "an integer operand
// becomes f16 exactly"); one converter per edge lane.
module i8_to_f16 (
    input  logic [7:0]  v,
    output logic [15:0] h
);
    localparam int F16_BIAS = 15;
    localparam int F16_FRAC = 10;

    logic       s;
    logic [7:0] mag;
    logic [2:0] msb;
    assign s   = v[7];
    assign mag = s ? 8'(-v) : v;      // -128 gives 128 (bit 7), as it should
    always_comb begin
        msb = 3'd0;
        for (int i = 0; i < 8; i++)
            if (mag[i])
                msb = 3'(i);
    end

    logic [4:0] e;
    logic [9:0] frac;      // mag shifted so that its leading bit is the (dropped) hidden bit 10
    assign e    = 5'(32'(msb) + F16_BIAS);
    assign frac = 10'({10'd0, mag} << (4'(F16_FRAC) - 4'(msb)));
    assign h    = mag == 8'd0 ? 16'd0 : {s, e, frac};
endmodule
