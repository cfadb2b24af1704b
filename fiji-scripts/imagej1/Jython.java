// Lets plain ImageJ 1.x run Jython (.py) plugins and scripts, as Fiji does out of the box.
// ImageJ 1.x looks for a plugin class named "Jython" when it runs a .py file (Macro_Runner.runPython);
// this one wraps Jython 2.7's PythonInterpreter. Built and installed by `carekit fiji install`.
import ij.IJ;
import ij.plugin.PlugInInterpreter;
import java.io.File;
import java.util.Properties;
import org.python.core.PyObject;
import org.python.core.PyStringMap;
import org.python.core.PySystemState;
import org.python.util.PythonInterpreter;

public class Jython extends PlugInInterpreter {
    private static PySystemState systemState;
    private String returnValue = "";

    /** One Python system state for the JVM: modules stay imported between runs, each run gets fresh globals. */
    private static synchronized PySystemState systemState() {
        if (systemState != null) return systemState;
        Properties props = new Properties();
        String plugins = IJ.getDirectory("plugins");
        if (plugins != null) {
            props.setProperty("python.path", plugins + "jars" + File.separator + "Lib");
        }
        props.setProperty("python.import.site", "false");
        props.setProperty("python.cachedir.skip", "true");
        PythonInterpreter.initialize(System.getProperties(), props, new String[0]);
        systemState = new PySystemState();
        return systemState;
    }

    public String run(String code, String arg) {
        PythonInterpreter interpreter = new PythonInterpreter(new PyStringMap(), systemState());
        try {
            interpreter.set("__script_argument__", arg == null ? "" : arg);
            interpreter.exec(code);
            PyObject result = interpreter.get("result");
            returnValue = result == null ? "" : result.toString();
        } catch (Throwable error) {
            IJ.log("Jython error: " + error);
            throw new RuntimeException(error);
        }
        return returnValue;
    }

    public String getReturnValue() { return returnValue; }
    public String getName() { return "Jython"; }
    public String getImports() { return ""; }
    public String getVersion() { return "2.7"; }
}
