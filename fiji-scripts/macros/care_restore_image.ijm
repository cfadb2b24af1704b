// Restore one image with a CARE model packaged by carekit (bioimage.io .zip).
// Works in Fiji and in plain ImageJ 1.x once `carekit fiji install --target <Fiji.app or ImageJ folder>` ran.
// Headless: ImageJ -batch care_restore_image.ijm "/path/model.zip,/path/input.tif,/path/output.tif"
args = split(getArgument(), ",");
if (args.length == 3) {
    model = args[0]; input = args[1]; output = args[2];
} else {
    model = File.openDialog("CARE model package (.zip)");
    input = File.openDialog("Image to restore");
    output = File.getDirectory(input) + File.getNameWithoutExtension(input) + "_CARE.tif";
}
run("CARE Restore", "model=[" + model + "] input=[" + input + "] output=[" + output + "]");
print("restored: " + output);
