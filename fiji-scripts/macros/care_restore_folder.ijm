// Restore every TIFF of a folder with a CARE model; results go to <folder>/CARE/ with the same names.
// Headless: ImageJ -batch care_restore_folder.ijm "/path/model.zip,/path/folder"
args = split(getArgument(), ",");
if (args.length == 2) {
    model = args[0]; folder = args[1];
} else {
    model = File.openDialog("CARE model package (.zip)");
    folder = getDirectory("Folder of images to restore");
}
if (!endsWith(folder, File.separator)) folder = folder + File.separator;
outFolder = folder + "CARE" + File.separator;
File.makeDirectory(outFolder);
files = getFileList(folder);
count = 0;
for (i = 0; i < files.length; i++) {
    if (endsWith(toLowerCase(files[i]), ".tif") || endsWith(toLowerCase(files[i]), ".tiff")) {
        run("CARE Restore", "model=[" + model + "] input=[" + folder + files[i] + "] output=[" + outFolder + files[i] + "]");
        count++;
        showProgress(i + 1, files.length);
    }
}
print("restored " + count + " images into " + outFolder);
